"""``lsp-fim complete`` against a real llama-server (built from llama.cpp) on the default model:
``/infill``, and ``/v1/completions`` with our template.

Runs when ``LSP_FIM_LLAMA_SERVER`` names a llama-server binary, as ``.ci/run`` (CI included)
sets it to the one ``.ci/llama_server.sh`` built; otherwise skipped with that reason.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_complete import EXAMPLE, complete

from bench.engine_process import EngineProcess, free_port, llama_server_env, running_engine
from lsp_fim.backends.base import FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.http_stream import EngineAddress
from lsp_fim.backends.llama_server import open_llama_server
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionRequest, load_engine

LLAMA_SERVER = os.environ.get("LSP_FIM_LLAMA_SERVER")
STARTUP_TIMEOUT_S = 180

pytestmark = pytest.mark.skipif(
    not LLAMA_SERVER,
    reason="set LSP_FIM_LLAMA_SERVER=/path/to/llama-server to run against a real engine",
)


@pytest.fixture(scope="module")
def llama_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _llama_server(model_path, free_port(), tmp_path_factory.mktemp("llama-server")) as engine:
        yield engine.url


@contextlib.contextmanager
def _llama_server(model_path: Path, port: int, log_dir: Path) -> Iterator[EngineProcess]:
    """A llama-server on the default model, with the libraries next to its binary."""
    assert LLAMA_SERVER is not None
    binary = Path(LLAMA_SERVER)
    env = llama_server_env(binary)
    command = [str(binary), "-m", str(model_path), "--host", "127.0.0.1", "--port", str(port)]
    command += ["-t", "2", "-c", "4096"]
    with running_engine(
        "llama-server", command, port, "/health", log_dir, STARTUP_TIMEOUT_S, env
    ) as engine:
        yield engine


def test_infill(llama_server: str) -> None:
    answer = complete("--backend", "llama-server", "--backend-url", llama_server)
    assert answer["template"] == "qwen2.5-coder"
    assert "sqrt" in answer["text"] or "**" in answer["text"], answer["text"]
    assert answer["stop_reason"] is not None
    assert answer["prompt_tokens"] > 20 and answer["generated_tokens"] > 0
    assert answer["timings"]["prompt_ms"] > 0
    assert 0 < answer["confidence"] <= 1, "the engine's probabilities reach --json"


def test_openai_completions_with_our_template(llama_server: str) -> None:
    flags = ("--backend", "openai", "--backend-url", llama_server, "--template", "qwen2.5-coder")
    answer = complete(*flags)
    assert answer["template"] == "qwen2.5-coder"
    assert "sqrt" in answer["text"] or "**" in answer["text"], answer["text"]
    assert answer["stop_reason"] is not None
    assert answer["generated_tokens"] > 0
    assert 0 < answer["confidence"] <= 1


def norm_request() -> CompletionRequest:
    """The README's example cursor: line 4, character 8."""
    text = EXAMPLE.read_text(encoding="utf-8")
    offset = sum(len(line) for line in text.splitlines(keepends=True)[:4]) + 8
    return CompletionRequest(text, offset, "python", str(EXAMPLE))


def test_infill_reports_token_probabilities(llama_server: str) -> None:
    backend, template = open_llama_server(EngineAddress.parse(llama_server), None)
    request = norm_request()
    prefix, suffix = request.text[: request.offset], request.text[request.offset :]
    prompt = FimPrompt(template.render_pieces(prefix, suffix), prefix, suffix)
    stats = GenerationStats()
    text = "".join(backend.stream(GenerationRequest(prompt, 16, (), threading.Event()), stats))
    print(text, stats.choices)
    assert text and stats.choices
    assert all(choice.logprob <= 0 for choice in stats.choices)
    assert stats.choices[-1].end == len(text)
    assert any(choice.runners_up for choice in stats.choices)


def test_alternatives_over_llama_server(llama_server: str) -> None:
    """The explicit request's suggestions: the greedy one with its confidence, then
    others that start with the model's runners-up (sent as /infill's ``prompt``)."""
    settings = Settings(
        backend="llama-server", backend_url=llama_server, max_generate_ms=0, max_tokens=24
    )
    found = load_engine(settings).complete_alternatives(norm_request())
    print([(completion.text, completion.confidence) for completion in found])
    assert len({completion.text for completion in found}) >= 2
    assert found[0].confidence is not None and 0 < found[0].confidence <= 1
    assert "sqrt" in found[0].text or "**" in found[0].text, found[0].text


def test_an_engine_killed_mid_stream_and_restarted_serves_the_editor_again(
    model_path: Path, tmp_path: Path
) -> None:
    """``lsp-fim serve`` on a llama-server that is killed while it streams a suggestion: that
    request gets an empty answer (not the text so far, not silence), and once the engine is
    back on its port the next request is served, with no restart of the editor's server."""
    from bench.lsp_client import WireClient, start_server

    port = free_port()

    def engine() -> contextlib.AbstractContextManager[EngineProcess]:
        return _llama_server(model_path, port, tmp_path)

    norm = "import math\n\n\ndef norm(x: float, y: float) -> float:\n    \n    return r\n"
    uri = (tmp_path / "norm.py").as_uri()
    with engine() as first:
        process = start_server(
            "--log-file", str(tmp_path / "server.log"), "serve",
            "--backend", "llama-server", "--backend-url", first.url,
        )  # fmt: skip
        client = WireClient.over_process(process)
        try:
            long_answers = {"maxTokens": 400, "maxGenerateMs": 0, "scopeStop": False}
            client.initialize(root_uri=tmp_path.as_uri(), options={"lspFim": long_answers})
            client.open(uri, norm)
            time.sleep(1)
            request = client.inline_completion(uri, 4, 4)
            time.sleep(0.5)  # generating: 400 tokens take several seconds on 2 cores
            first.process.kill()
            killed = client.wait_for_answer(request, 60)
            assert "error" not in killed and killed["result"] is None, killed
        finally:
            first.process.kill()
        with engine():
            short = {"maxTokens": 24, "scopeStop": True}  # a busy machine must not matter
            client.notify("workspace/didChangeConfiguration", {"settings": {"lspFim": short}})
            again = client.wait_for_answer(client.inline_completion(uri, 4, 4), 180)
            assert again["result"] and again["result"]["items"][0]["insertText"].strip()
        client.shutdown()
        process.kill()
        process.wait(10)
