"""The server over stdio with ``backend: llama-server`` pointed at a scripted engine (no model):
the template is detected through the engine, its stream is cut by the scope stop, and an
engine that is down costs an empty answer and a log line, never the server."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from scripted_http import Reply, ScriptedEngine, content_events, sse
from test_http_engine import NORM, NORM_TOKENS
from test_server_e2e import wait_until_ready

LOG_FILE = Path(os.environ.get("LSP_FIM_HTTP_E2E_LOG", "/tmp/lsp-fim-http-e2e.log"))
URI = "file:///tmp/lsp_fim_http_e2e/norm.py"
NORM_CURSOR = types.Position(line=4, character=4)
QWEN_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>")
SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "lsp_fim", "--log-file", str(LOG_FILE), "serve"],
    server_env=dict(os.environ),
)


def infill(body: Any) -> Reply:
    """Warm-ups (``n_predict`` 0) evaluate only; requests get the norm body, token by token."""
    if body["n_predict"] == 0:
        return Reply([sse({"content": "", "stop": True, "tokens_evaluated": 40})])
    return Reply(content_events(NORM_TOKENS), delay_s=0.005)


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine(
        {"/props": [Reply(body='{"model_path": "/models/coder.gguf"}')], "/infill": infill}
    )
    scripted.tokenize = lambda text: [1] if text in QWEN_TOKENS else [1, 2]
    with scripted:
        yield scripted


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start(client: LanguageClient, options: dict[str, Any]) -> None:
    capabilities = client_capabilities("neovim")
    assert capabilities.text_document is not None
    capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    await client.initialize_session(
        types.InitializeParams(capabilities=capabilities, initialization_options=options)
    )
    await wait_until_ready(client)


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, engine: ScriptedEngine) -> AsyncIterator[None]:
    options = {"backend": "llama-server", "backendUrl": engine.url, "maxGenerateMs": 0}
    await start(lsp_client, {"lspFim": options})
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def client_of_a_down_engine(
    lsp_client: LanguageClient, closed_port: int
) -> AsyncIterator[None]:
    url = f"http://127.0.0.1:{closed_port}"
    options = {"backend": "llama-server", "backendUrl": url, "template": "qwen2.5-coder"}
    await start(lsp_client, {"lspFim": options})
    yield
    await lsp_client.shutdown_session()


def open_norm(client: LanguageClient) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=URI, language_id="python", version=1, text=NORM
            )
        )
    )


def inline_params() -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        position=NORM_CURSOR,
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
    )


async def test_inline_completion_from_the_engine_is_cut_by_the_scope_stop(
    client: LanguageClient, engine: ScriptedEngine
) -> None:
    ends = [r for rs in client.progress_reports.values() for r in rs]
    assert any(getattr(r, "message", None) == "ready (qwen2.5-coder)" for r in ends)
    open_norm(client)
    result = await client.text_document_inline_completion_async(inline_params())
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 1
    assert result.items[0].insert_text == "r = math.sqrt(x**2 + y**2)"
    assert engine.disconnected.wait(5)  # the rest was never read
    generations = [body for body in engine.bodies("/infill") if body["n_predict"] > 0]
    assert generations[0]["input_prefix"].endswith("-> float:\n    ")
    assert generations[0]["input_suffix"].startswith("\n    return r")


async def test_an_engine_that_is_down_costs_an_empty_answer_not_the_server(
    client_of_a_down_engine: LanguageClient, closed_port: int
) -> None:
    client = client_of_a_down_engine
    open_norm(client)
    for _ in range(2):  # and the server is still there to answer again
        result = await client.text_document_inline_completion_async(inline_params())
        assert result is None or not result.items
    log = LOG_FILE.read_text(encoding="utf-8")
    assert (
        f"no suggestion: cannot reach the inference engine at http://127.0.0.1:{closed_port}" in log
    )


@pytest.fixture
def late_engine() -> Iterator[ScriptedEngine]:
    """An engine that is not up yet when the editor starts lsp-fim (503 while it loads)."""
    scripted = ScriptedEngine(
        {"/props": [Reply(status=503, body='{"error": "Loading model"}')], "/infill": infill}
    )
    scripted.tokenize = lambda text: [1] if text in QWEN_TOKENS else [1, 2]
    with scripted:
        yield scripted


@pytest_lsp.fixture(config=SERVER)
async def client_before_the_engine(
    lsp_client: LanguageClient, late_engine: ScriptedEngine
) -> AsyncIterator[None]:
    options = {"backend": "llama-server", "backendUrl": late_engine.url, "maxGenerateMs": 0}
    capabilities = client_capabilities("neovim")
    assert capabilities.text_document is not None
    capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities, initialization_options={"lspFim": options}
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_an_engine_started_after_the_editor_is_used_once_it_is_up(
    client_before_the_engine: LanguageClient, late_engine: ScriptedEngine
) -> None:
    client = client_before_the_engine
    open_norm(client)
    assert not await suggestions(client, until_s=1.0)  # the engine is still loading
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1 and late_engine.url in errors[0].message
    late_engine.replies["/props"] = [Reply(body='{"model_path": "/models/coder.gguf"}')]
    assert await suggestions(client, until_s=SERVER_RETRY_WAIT_S) == ["r = math.sqrt(x**2 + y**2)"]
    assert len([m for m in client.messages if m.type == types.MessageType.Error]) == 1


SERVER_RETRY_WAIT_S = 20.0


async def suggestions(client: LanguageClient, until_s: float) -> list[str]:
    """Asks every half second until a suggestion comes or ``until_s`` passes."""
    deadline = asyncio.get_running_loop().time() + until_s
    while asyncio.get_running_loop().time() < deadline:
        result = await client.text_document_inline_completion_async(inline_params())
        if isinstance(result, types.InlineCompletionList) and result.items:
            return [str(item.insert_text) for item in result.items]
        await asyncio.sleep(0.5)
    return []
