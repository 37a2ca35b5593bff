"""Secrets never leave the editor: the server over stdio, files that hold secrets open beside
the one being completed, and an HTTP engine that records every request it gets (no model).
Marker strings planted in those files must be in no request body, no answer and no log line,
``-v`` included. The last test does the same with the real model in-process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from scripted_http import Reply, ScriptedEngine, content_events, sse
from test_http_openai import chunks
from test_server_e2e import server_env, wait_until_ready

WORKSPACE = Path("/tmp/lsp_fim_privacy_e2e/ws")
OUTSIDE = Path("/tmp/lsp_fim_privacy_e2e/outside")
VERBOSE_LOG = Path("/tmp/lsp-fim-privacy-e2e-verbose.log")
QUIET_LOG = Path("/tmp/lsp-fim-privacy-e2e-quiet.log")
APP_TOKEN = "ghp_LEAKAPPMARKER" + "x1" * 11 + "y"  # a GitHub token's shape: ghp_ + 36
MARKERS = (
    "LEAKENVMARKER",
    "LEAKRSAMARKER",
    "LEAKYAMLMARKER",
    "LEAKCREDMARKER",
    "LEAKOUTSIDEMARKER",
    "LEAKAPPMARKER",
    "LEAKRELMARKER",
)
# Files the editor has open: those that hold secrets by name, one outside the workspace, and
# two that app.py names, each with a secret line.
FILES = {
    WORKSPACE / ".env": "OPENAI_API_KEY=LEAKENVMARKER\nDEBUG=1\n",
    WORKSPACE / "id_rsa": (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nLEAKRSAMARKER\n-----END OPENSSH PRIVATE KEY-----\n"
    ),
    WORKSPACE / "secrets.yaml": "database:\n  url: postgres://LEAKYAMLMARKER@db/app\n",
    WORKSPACE / "credentials.json": '{"token": "LEAKCREDMARKER"}\n',
    OUTSIDE / "helpers.py": "def helper():\n    return 'LEAKOUTSIDEMARKER'\n",
    WORKSPACE / "shapes.py": (
        "DB_PASSWORD = 'LEAKRELMARKER99'\n\n\ndef area(s):\n    return s * s\n"
    ),
    WORKSPACE / "app.py": (
        "import credentials  # id_rsa, .env\n"
        "import helpers\n"
        "import secrets\n"
        "import shapes\n"
        "\n"
        f'GITHUB_TOKEN = "{APP_TOKEN}"\n'
        "\n"
        "\n"
        "def main():  # PLAINDOCMARKER\n"
        "    x = shapes.area(2)\n"
        "    \n"
    ),
}
APP = WORKSPACE / "app.py"
APP_CURSOR = types.Position(line=10, character=4)
TOKEN_LINE = types.Position(line=5, character=20)
# What the engine answers, with something shaped like an AWS key id in it: the editor gets it
# (the model wrote it), the log only redacted.
SUGGESTION = 'print("PLAINSUGGESTION", "AKIALEAKSUGGEST12345")'
QWEN_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>")


def server_config(log_file: Path, *flags: str) -> ClientServerConfig:
    return ClientServerConfig(
        server_command=[
            sys.executable,
            "-m",
            "lsp_fim",
            "--log-file",
            str(log_file),
            *flags,
            "serve",
        ],
        server_env=server_env(),
    )


def llama_server_answer(body: Any) -> Reply:
    """The same suggestion for every generation; warm-ups (``n_predict`` 0) evaluate only."""
    if body["n_predict"] == 0:
        return Reply([sse({"content": "", "stop": True, "tokens_evaluated": 40})])
    return Reply(content_events([SUGGESTION]))


def tokens(content: Any) -> list[int]:
    """llama-server's ``/tokenize``: one id for a FIM marker, two for any other text."""
    return [1] if content in QWEN_TOKENS else [1, 2]


# How the server reaches each engine: OpenAI's /v1/completions (the rendered prompt),
# llama-server's /infill (prefix, suffix, other files in input_extra) and, with a template,
# its /completion (token ids, the texts tokenized by /tokenize).
ENGINES = {
    "openai": {"backend": "openai", "backendModel": "qwen2.5-coder", "template": "qwen2.5-coder"},
    "llama-server /infill": {"backend": "llama-server"},
    "llama-server /completion": {"backend": "llama-server", "template": "qwen2.5-coder"},
}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[ScriptedEngine, dict[str, Any]]]:
    """A recording engine, and the settings that point the server at it."""
    for log_file in (VERBOSE_LOG, QUIET_LOG):
        log_file.unlink(missing_ok=True)
    scripted = ScriptedEngine(
        {
            "/v1/completions": lambda body: Reply(chunks([SUGGESTION])),
            "/infill": llama_server_answer,
            "/completion": llama_server_answer,
            "/props": [Reply(body='{"model_path": "/models/qwen2.5-coder.gguf"}')],
        }
    )
    scripted.tokenize = tokens
    options = {**ENGINES[request.param], "backendUrl": scripted.url, "maxGenerateMs": 0}
    with scripted:
        yield scripted, options


async def start(client: LanguageClient, options: dict[str, Any]) -> None:
    capabilities = client_capabilities("neovim")
    assert capabilities.text_document is not None
    capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=WORKSPACE.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=WORKSPACE.as_uri(), name="ws")],
            initialization_options={"lspFim": options},
        )
    )
    await wait_until_ready(client)


@pytest_lsp.fixture(config=server_config(VERBOSE_LOG, "-v"))
async def verbose_client(
    lsp_client: LanguageClient, engine: tuple[ScriptedEngine, dict[str, Any]]
) -> AsyncIterator[None]:
    await start(lsp_client, engine[1])
    yield
    if not lsp_client.stopped:  # tests stop the server to read its whole log
        await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=server_config(QUIET_LOG))
async def quiet_client(
    lsp_client: LanguageClient, engine: tuple[ScriptedEngine, dict[str, Any]]
) -> AsyncIterator[None]:
    await start(lsp_client, engine[1])
    yield
    if not lsp_client.stopped:  # tests stop the server to read its whole log
        await lsp_client.shutdown_session()


DENIED = [WORKSPACE / ".env", WORKSPACE / "id_rsa", WORKSPACE / "secrets.yaml"]
DENIED.append(WORKSPACE / "credentials.json")


def open_files(client: LanguageClient, paths: list[Path]) -> None:
    for path in paths:
        language = "python" if path.suffix == ".py" else "plaintext"
        item = types.TextDocumentItem(
            uri=path.as_uri(), language_id=language, version=1, text=FILES[path]
        )
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))


async def denied_files_are_not_read(client: LanguageClient) -> None:
    """Opened, asked in, and left idle for the work ahead: no suggestion there."""
    open_files(client, DENIED)
    assert await suggest(client, WORKSPACE / ".env", types.Position(line=1, character=0)) == []
    yaml_position = types.Position(line=1, character=2)
    assert await suggest(client, WORKSPACE / "secrets.yaml", yaml_position) == []
    await asyncio.sleep(0.8)  # work ahead starts after 0.3 s of quiet


async def suggest(client: LanguageClient, path: Path, position: types.Position) -> list[str]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
            position=position,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    if not isinstance(result, types.InlineCompletionList):
        return []
    return [str(item.insert_text) for item in result.items]


def leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


async def test_no_secret_reaches_the_engine_the_answers_or_the_verbose_log(
    verbose_client: LanguageClient, engine: tuple[ScriptedEngine, dict[str, Any]]
) -> None:
    client, scripted = verbose_client, engine[0]
    asked_at_start = len(scripted.requests)  # llama-server's template, before any file
    await denied_files_are_not_read(client)
    assert len(scripted.requests) == asked_at_start
    open_files(client, [OUTSIDE / "helpers.py", WORKSPACE / "shapes.py", APP])
    answers = [await suggest(client, APP, TOKEN_LINE)]  # the cursor on a secret line
    assert answers == [[]]
    answers.append(await suggest(client, APP, APP_CURSOR))
    assert answers[-1] == [SUGGESTION]
    await asyncio.sleep(1.0)  # the work ahead after the answer (0.3 s idle)
    await client.shutdown_session()

    bodies = json.dumps([request.body for request in scripted.requests])
    assert "import shapes" in bodies and "def area(s)" in bodies  # app.py, and its context
    assert "[redacted]" in bodies  # its token line and the password line of shapes.py
    assert leaks(bodies) == [] and leaks(json.dumps(answers)) == []
    log = VERBOSE_LOG.read_text(encoding="utf-8")
    assert "PLAINSUGGESTION" in log  # -v logs the text of the LSP messages
    assert leaks(log) == [] and "LEAKSUGGEST" not in log


async def test_without_v_the_log_holds_no_document_or_suggestion_text(
    quiet_client: LanguageClient, engine: tuple[ScriptedEngine, dict[str, Any]]
) -> None:
    open_files(quiet_client, [WORKSPACE / "shapes.py", APP])
    assert await suggest(quiet_client, APP, APP_CURSOR) == [SUGGESTION]
    await quiet_client.shutdown_session()
    log = QUIET_LOG.read_text(encoding="utf-8")
    assert "complete path=" in log  # one line per request, with no text
    assert "PLAINSUGGESTION" not in log and "PLAINDOCMARKER" not in log and leaks(log) == []


def test_the_command_line_refuses_a_denied_file_and_a_secret_line(tmp_path: Path) -> None:
    """Both before any model or engine is loaded: the message is all that happens."""
    env_file, app = tmp_path / ".env", tmp_path / "app.py"
    env_file.write_text("KEY=LEAKENVMARKER\n")
    app.write_text(FILES[APP], encoding="utf-8")
    for path, line, said in ((env_file, 0, "may hold secrets"), (app, 5, "holds a secret")):
        command = [sys.executable, "-m", "lsp_fim", "complete", str(path), "--line", str(line)]
        done = subprocess.run(
            [*command, "--character", "0"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2 and said in done.stderr and not done.stdout
        assert leaks(done.stderr) == []


REAL_LOG = Path(os.environ.get("LSP_FIM_PRIVACY_E2E_LOG", "/tmp/lsp-fim-privacy-real.log"))


@pytest.fixture
def fresh_real_log() -> None:
    REAL_LOG.unlink(missing_ok=True)


@pytest_lsp.fixture(config=server_config(REAL_LOG, "-v"))
async def model_client(lsp_client: LanguageClient, fresh_real_log: None) -> AsyncIterator[None]:
    await start(lsp_client, {"maxTokens": 16, "maxGenerateMs": 0})
    yield
    if not lsp_client.stopped:  # tests stop the server to read its whole log
        await lsp_client.shutdown_session()


@pytest.mark.model
async def test_the_real_model_completes_nothing_in_a_denied_file(
    model_client: LanguageClient,
) -> None:
    client = model_client
    await denied_files_are_not_read(client)
    stats = await client.protocol.send_request_async("lspFim/stats", None)
    assert stats.requests == 0 and stats.backgroundRuns == 0
    open_files(client, [OUTSIDE / "helpers.py", WORKSPACE / "shapes.py", APP])
    assert await suggest(client, APP, TOKEN_LINE) == []
    answer = await suggest(client, APP, APP_CURSOR)  # whatever the model writes from it
    assert leaks(json.dumps(answer)) == []
    await asyncio.sleep(1.0)
    await client.shutdown_session()
    log = REAL_LOG.read_text(encoding="utf-8")
    assert "may hold secrets" in log and "holds a secret" in log
    assert leaks(log) == []
