"""``lsp-fim doctor``: each check's failure with its fix (fakes: a private model cache, a
scripted loopback engine, a made-up home), and once on the real model."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import llama_cpp
import pytest
from scripted_http import Reply, ScriptedEngine, sse

from lsp_fim import doctor
from lsp_fim.cli import main
from lsp_fim.config import Settings
from lsp_fim.doctor import Check, Status, in_range, run_checks
from lsp_fim.models import catalogue
from lsp_fim.models.catalogue import KnownModel, PypiParts


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache and home; the doctor's offline switch for the hub is undone after."""
    monkeypatch.setenv("LSP_FIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LSP_FIM_MODEL", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "cache").mkdir()
    (tmp_path / "home").mkdir()
    return tmp_path / "cache"


def checks_of(settings: Settings, home: Path) -> dict[str, Check]:
    return {check.check: check for check in run_checks(settings, home)}


def test_no_model_cached_fails_with_the_pull_command(tmp_path: Path) -> None:
    checks = checks_of(Settings(), tmp_path / "home")
    model = checks["model"]
    assert model.status is Status.FAIL
    assert model.fix == f"lsp-fim model pull {catalogue.DEFAULT_MODEL}"
    assert "engine" not in checks and "completion" not in checks  # they need the model


def test_a_cached_model_with_the_wrong_sha256_fails_with_a_forced_pull(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"GGUF" + b"x" * 60
    tiny = KnownModel(
        "tiny", "a test model", "tiny.gguf", "0" * 64, len(data), "t/t", PypiParts("t{}", 1, "1")
    )
    monkeypatch.setattr(catalogue, "KNOWN_MODELS", (tiny,))
    (private_cache / "tiny.gguf").write_bytes(data)
    model = checks_of(Settings(model="tiny"), tmp_path / "home")["model"]
    assert model.status is Status.FAIL and "sha256" in model.detail
    assert model.fix == "lsp-fim model pull tiny --force"


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("backend", ["llama-server", "openai"])
def test_an_http_engine_that_is_down_fails_with_its_url(tmp_path: Path, backend: str) -> None:
    url = closed_port_url()
    settings = Settings(backend=backend, backend_url=url, backend_model="qwen2.5-coder-7b")
    checks = run_checks(settings, tmp_path / "home")
    [failed] = [check for check in checks if check.status is Status.FAIL]
    assert failed.check in {"engine", "completion"}
    assert f"cannot reach the inference engine at {url}" in failed.detail
    assert failed.fix is not None and "--backend-url" in failed.fix
    assert "model" not in {check.check for check in checks}  # the engine holds the model


def test_a_scripted_loopback_engine_passes_with_a_timed_completion(tmp_path: Path) -> None:
    events = [
        sse({"choices": [{"text": piece}]}) for piece in ("r = x", " + y\n", "    return r\n")
    ]
    with ScriptedEngine({"/v1/completions": [Reply([*events, "data: [DONE]\n\n"])]}) as engine:
        settings = Settings(
            backend="openai", backend_url=engine.url, backend_model="qwen2.5-coder-7b"
        )
        checks = checks_of(settings, tmp_path / "home")
    assert checks["engine"].status is Status.OK
    assert checks["template"].detail == "qwen2.5-coder (detected from the model)"
    completion = checks["completion"]
    assert completion.status is Status.OK and " ms, " in completion.detail
    assert completion.detail.endswith("'r = x + y'")
    [request] = engine.requests  # the example, to the configured engine only
    assert "def norm(x: float, y: float)" in request.body["prompt"]


def test_a_cpu_without_vector_units_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        llama_cpp, "llama_print_system_info", lambda: b"CPU : SSE3 = 1 | AVX2 = 0 |"
    )
    cpu = checks_of(Settings(), tmp_path / "home")["cpu"]
    assert cpu.status is Status.WARN and "SSE3" in cpu.detail and cpu.fix


def test_editor_configs_naming_lsp_fim_are_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".vscode/extensions/lsp-fim.lsp-fim-0.1.0").mkdir(parents=True)
    (home / ".config/nvim/lua").mkdir(parents=True)
    (home / ".config/nvim/lua/plugins.lua").write_text('require("lsp_fim").setup({})\n')
    (home / ".config/nvim/init.lua").write_text("vim.o.number = true\n")
    (home / ".config/helix").mkdir(parents=True)
    (home / ".config/helix/languages.toml").write_text(
        '[language-server.fim]\ncommand = "lsp-fim"\n'
    )
    found = list(doctor.editor_configs(home))
    assert found == [
        f"VS Code extension {home}/.vscode/extensions/lsp-fim.lsp-fim-0.1.0",
        f"Neovim config {home}/.config/nvim/lua/plugins.lua",
        f"Helix {home}/.config/helix/languages.toml",
    ]
    assert checks_of(Settings(), home)["editors"].status is Status.OK


def test_no_editor_config_is_a_warning_with_where_to_start(tmp_path: Path) -> None:
    editors = checks_of(Settings(), tmp_path / "home")["editors"]
    assert editors.status is Status.WARN and editors.fix == doctor.EDITOR_SETUP


def test_json_is_a_list_of_check_status_detail_fix_and_a_failure_exits_non_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor", "--json"]) == 1  # no model in the private cache
    report = json.loads(capsys.readouterr().out)
    assert all(set(line) == {"check", "status", "detail", "fix"} for line in report)
    assert [line["check"] for line in report][:5] == [
        "python", "llama-cpp-python", "cpu", "grammars", "model",
    ]  # fmt: skip
    assert {line["status"] for line in report} <= {"OK", "WARN", "FAIL"}


@pytest.mark.parametrize(
    ("version", "specifiers", "inside"),
    [
        ("0.3.36", ">=0.3.16", True),
        ("0.3.9", ">=0.3.16", False),
        ("0.4.0", ">=0.3.16,<0.4", False),
        ("3.11.7", ">=3.11", True),
        ("1.4.9", "~=1.4.2", True),
        ("1.5.0", "~=1.4.2", False),
        ("2025.0.0", "==2025.0.0", True),
        ("0.3.36rc1", "!=0.3.36", False),
    ],
)
def test_version_ranges(version: str, specifiers: str, inside: bool) -> None:
    assert in_range(version, specifiers) is inside


@pytest.mark.model
def test_doctor_passes_on_this_machine_with_a_completion_time(
    model_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LSP_FIM_CACHE_DIR", str(model_path.parent))
    assert main(["doctor", "--model", str(model_path)]) == 0
    report = capsys.readouterr().out
    [completion] = [line for line in report.splitlines() if " completion " in line]
    assert re.search(r" \d+ ms, \d+ tokens, stopped by ", completion)
