"""``lsp-fim complete`` against a real llama-server (built from llama.cpp) on the default model:
``/infill``, and ``/v1/completions`` with our template.

Runs when ``LSP_FIM_LLAMA_SERVER`` names a llama-server binary; otherwise skipped, also in CI,
which installs no llama-server (the scripted-engine tests cover the protocol there).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LLAMA_SERVER = os.environ.get("LSP_FIM_LLAMA_SERVER")
EXAMPLE = Path(__file__).parent.parent / "examples" / "norm.py"
STARTUP_TIMEOUT_S = 180

pytestmark = [
    pytest.mark.optional_engine,
    pytest.mark.skipif(
        not LLAMA_SERVER,
        reason="set LSP_FIM_LLAMA_SERVER=/path/to/llama-server to run against a real engine",
    ),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "llama-server exited while starting"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"llama-server not healthy after {STARTUP_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def llama_server(model_path: Path) -> Iterator[str]:
    """A llama-server on the default model, with the libraries next to its binary."""
    assert LLAMA_SERVER is not None
    binary = Path(LLAMA_SERVER)
    port = _free_port()
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        part for part in (str(binary.parent), env.get("LD_LIBRARY_PATH")) if part
    )
    command = [str(binary), "-m", str(model_path), "--host", "127.0.0.1", "--port", str(port)]
    command += ["-t", "2", "-c", "4096"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def complete(*flags: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "lsp_fim", "complete", str(EXAMPLE)]
    # No generation time limit: the answer must not depend on how busy the machine is.
    command += ["--line", "4", "--character", "4", "--json", "--max-generate-ms", "0", *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    print(" ".join(flags), json.dumps(answer))  # the numbers, for the record (-s)
    return answer


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
