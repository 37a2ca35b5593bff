"""``backend: openai`` against a real OpenAI-compatible engine, llama-cpp-python's own server
(``python -m llama_cpp.server``, the ``server`` extra), on the default model: the CLI, the
server over stdio, and cancelling a stream. Runs everywhere the model runs, CI included.

The engine gets one thread: on two shared cores its two threads waited on each other for
seconds per token whenever another process held a core.
"""

from __future__ import annotations

import ast
import http.client
import os
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_lsp
from cli_complete import EXAMPLE, complete
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from test_http_e2e import inline_params, open_norm, start

from bench.engine_process import EngineProcess, free_port, running_engine
from lsp_fim.backends.base import BackendError, FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.http_backend import HttpBackend
from lsp_fim.backends.http_engines import open_http_backend
from lsp_fim.backends.http_stream import EngineAddress
from lsp_fim.config import Settings

pytestmark = pytest.mark.model

STARTUP_TIMEOUT_S = 60
LOG_FILE = Path(os.environ.get("LSP_FIM_OPENAI_E2E_LOG", "/tmp/lsp-fim-openai-e2e.log"))
SCOPE_STOPS = {"scope_closed", "new_sibling", "suffix_repeat", "line_complete", "parse_clean"}
# Greedy, this goes on for hundreds of tokens (280 before the model's own end, measured).
LONG_PREFIX, LONG_SUFFIX = "NUMBERS = [\n    1,\n    2,\n    3,\n", "]\n"
LONG_MAX_TOKENS = 2000


@pytest.fixture(scope="module")
def engine(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "1"]
    # Unbuffered: the test reads the engine's "Disconnected from client" lines as they come.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log_dir = tmp_path_factory.mktemp("llama-cpp-server")
    with running_engine(
        "llama_cpp.server", command, port, "/v1/models", log_dir, STARTUP_TIMEOUT_S, env
    ) as running:
        yield running


def test_cli_suggestion_is_cut_by_the_scope_stop_and_parses(engine: EngineProcess) -> None:
    flags = ("--backend", "openai", "--backend-url", engine.url, "--template", "qwen2.5-coder")
    answer = complete(*flags)
    assert answer["text"].strip(), answer
    assert answer["stop_reason"] in SCOPE_STOPS, answer
    assert answer["generated_tokens"] > 0
    assert answer["timings"]["prompt_ms"] > 0  # timed here: the stream carries no timings
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    lines[4] = lines[4][:8] + answer["text"] + lines[4][8:]
    ast.parse("".join(lines))


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "lsp_fim", "--log-file", str(LOG_FILE), "serve"],
        server_env=dict(os.environ),
    )
)
async def client(lsp_client: LanguageClient, engine: EngineProcess) -> AsyncIterator[None]:
    options = {
        "backend": "openai",
        "backendUrl": engine.url,
        "template": "qwen2.5-coder",
        "maxGenerateMs": 0,
        "maxTokens": 64,
    }
    await start(lsp_client, {"lspFim": options})
    yield
    await lsp_client.shutdown_session()


async def test_lsp_inline_completion_from_the_engine(client: LanguageClient) -> None:
    open_norm(client)
    result = await client.text_document_inline_completion_async(inline_params())
    # An Invoked request: the engine's probabilities give alternatives over HTTP too.
    assert isinstance(result, types.InlineCompletionList) and 1 <= len(result.items) <= 3
    text = result.items[0].insert_text
    assert isinstance(text, str) and text.strip()
    assert "sqrt" in text or "**" in text, text


def openai_backend(engine: EngineProcess) -> tuple[HttpBackend, FimPrompt]:
    """The backend as the server opens it, and a prompt that makes the model go on and on."""
    settings = Settings(backend="openai", backend_url=engine.url, template="qwen2.5-coder")
    backend, template = open_http_backend(settings)
    pieces = template.render_pieces(LONG_PREFIX, LONG_SUFFIX)
    prompt = FimPrompt(pieces, LONG_PREFIX, LONG_SUFFIX)
    return backend, prompt


def long_request(prompt: FimPrompt) -> GenerationRequest:
    return GenerationRequest(prompt, LONG_MAX_TOKENS, (), threading.Event())


def test_token_probabilities_from_llama_cpp_python(engine: EngineProcess) -> None:
    """OpenAI's form of ``logprobs``, as llama-cpp-python's server streams it."""
    backend, prompt = openai_backend(engine)
    stats = GenerationStats()
    request = GenerationRequest(prompt, 8, (), threading.Event())
    text = "".join(backend.stream(request, stats))
    print(text, stats.choices)
    assert text and stats.choices
    assert all(choice.logprob <= 0 for choice in stats.choices)
    assert stats.choices[-1].end == len(text)


@pytest.fixture
def local_ports(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The local port of every connection to the engine, in order: the engine names the client
    it lost by that port."""
    ports: list[int] = []
    connect = EngineAddress.connect

    def recording_connect(address: EngineAddress) -> http.client.HTTPConnection:
        connection = connect(address)
        assert connection.sock is not None
        ports.append(int(connection.sock.getsockname()[1]))
        return connection

    monkeypatch.setattr(EngineAddress, "connect", recording_connect)
    return ports


def wait_for_disconnect(engine: EngineProcess, port: int, timeout_s: float) -> bool:
    pattern = re.compile(rf"Disconnected from client .*port={port}\)")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pattern.search(engine.output()):
            return True
        time.sleep(0.05)
    return False


def test_a_cancelled_stream_is_closed_and_the_engine_stops(
    engine: EngineProcess, local_ports: list[int]
) -> None:
    """The engine notices the closed connection at its next token and drops the generation,
    with no other request pending that would interrupt it anyway; the next request is
    answered in full."""
    backend, prompt = openai_backend(engine)
    request = long_request(prompt)
    pieces: list[str] = []
    for piece in backend.stream(request, GenerationStats()):
        pieces.append(piece)
        if len(pieces) == 3:
            request.cancel.set()
    assert len(pieces) == 3
    assert wait_for_disconnect(engine, local_ports[-1], 15), engine.output()[-2000:]

    started = time.monotonic()
    follow_up = GenerationRequest(prompt, 8, (), threading.Event())
    assert "".join(backend.stream(follow_up, GenerationStats())).strip()
    # Far less than the ~2000 tokens of the first generation would have taken.
    assert time.monotonic() - started < 20


def test_a_stream_the_engine_cuts_off_for_a_newer_request_is_an_error(
    engine: EngineProcess,
) -> None:
    """llama-cpp-python's server (``interrupt_requests``, on by default) ends a stream with
    ``[DONE]`` and no finish reason when another request comes: not a suggestion."""
    backend, prompt = openai_backend(engine)
    first_piece = threading.Event()
    outcome: list[BaseException | str] = []

    def first_stream() -> None:
        try:
            for piece in backend.stream(long_request(prompt), GenerationStats()):
                outcome.append(piece)
                first_piece.set()
        except BackendError as error:
            outcome.append(error)
        finally:
            first_piece.set()

    reader = threading.Thread(target=first_stream)
    reader.start()
    try:
        assert first_piece.wait(30)
        newer = GenerationRequest(prompt, 4, (), threading.Event())
        assert "".join(backend.stream(newer, GenerationStats())).strip()
    finally:
        reader.join(60)
    assert isinstance(outcome[-1], BackendError), outcome
    assert "the stream ended before the generation did" in str(outcome[-1])
    assert len(outcome) < LONG_MAX_TOKENS // 4
