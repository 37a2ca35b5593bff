"""The peers, replayed over the same document states: llama-cpp-python's high-level API with
the whole prompt each time (``naive``), and llama.cpp's llama-server ``/infill`` with its
prompt cache (what llama.vim and llama.vscode use)."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.engine_process import free_port, llama_server_env, running_engine
from bench.latency.states import BenchState
from bench.latency.stats import LatencySummary, summarize
from lsp_fim.backends.llama_cpp import DEFAULT_CONTEXT_TOKENS
from lsp_fim.config import Settings
from lsp_fim.templates import FimTemplate

LOAD_TIMEOUT_S = 600.0


@dataclass
class BaselineResult:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    generated_tokens: int = 0
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> LatencySummary:
        return summarize(self.latencies_ms)


# --- naive: llama-cpp-python's high-level API -------------------------------------------------


def run_naive(
    model: Path,
    threads: int,
    settings: Settings,
    template: FimTemplate,
    states: Sequence[BenchState],
) -> BaselineResult:
    """The full prompt through ``create_completion`` each time, as a user of that API writes
    it: its own ``Llama`` with our context size, and llama-cpp-python's own prompt-prefix
    reuse, which is what such a user gets."""
    import llama_cpp

    result = BaselineResult("naive")
    llama = llama_cpp.Llama(
        model_path=str(model),
        n_ctx=DEFAULT_CONTEXT_TOKENS,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    for _, token in template.detection.fim_tokens:
        if len(llama.tokenize(token.encode(), add_bos=False, special=True)) != 1:
            result.notes.append(f"{token!r} is not one token: prompts are wrong")
    result.notes.append("prompt passed as tokens (special tokens parsed), as the server does")
    for state in states:
        tokens = llama.tokenize(state.prompt.encode("utf-8"), add_bos=False, special=True)
        # llama-cpp-python evaluates what follows the prefix shared with its context (by its
        # own measure), and at least the last token.
        reused = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
        started = time.perf_counter()
        chunks = llama.create_completion(
            tokens,
            max_tokens=settings.max_tokens,
            temperature=0.0,
            stop=list(template.stop),
            stream=True,
        )
        result.generated_tokens += _stream_within(chunks, settings.max_generate_ms)
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.prompt_tokens += len(tokens)
        result.prompt_tokens_evaluated += len(tokens) - min(reused, len(tokens) - 1)
    del llama
    return result


def _stream_within(chunks: Iterable[Any], limit_ms: int) -> int:
    """Reads a streamed completion, stopping ``limit_ms`` after its first piece as the server
    does (``maxGenerateMs``); returns the pieces read."""
    first_at, count = None, 0
    for _ in chunks:
        count += 1
        first_at = first_at or time.perf_counter()
        if limit_ms and (time.perf_counter() - first_at) * 1000 > limit_ms:
            break
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    return count


# --- llama-server /infill ---------------------------------------------------------------------


def find_llama_server(option: str | None) -> tuple[str | None, str]:
    """The binary from ``--llama-server``, ``$LLAMA_SERVER`` or ``PATH``, or why there is none."""
    candidate = option or os.environ.get("LLAMA_SERVER") or shutil.which("llama-server")
    if not candidate:
        return None, "no llama-server binary (use --llama-server PATH or $LLAMA_SERVER)"
    if not (Path(candidate).is_file() and os.access(candidate, os.X_OK)):
        return None, f"{candidate} is not an executable file"
    return candidate, ""


def llama_server_command(binary: str, model: Path, threads: int, port: int) -> list[str]:
    """A llama-server as llama.vim recommends it (prompt cache with ``--cache-reuse 256``),
    one slot with the same context size as ours."""
    return [
        binary,
        "-m",
        str(model),
        "--ctx-size",
        str(DEFAULT_CONTEXT_TOKENS),
        "--cache-reuse",
        "256",
        "--threads",
        str(threads),
        "--threads-batch",
        str(threads),
        "--parallel",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def _http_json(url: str, payload: dict[str, Any], timeout: float = 120) -> Any:
    data = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=timeout) as r:
        return json.loads(r.read())


def _infill(url: str, state: BenchState, settings: Settings, result: BaselineResult) -> None:
    payload = {
        "input_prefix": state.prefix,
        "input_suffix": state.suffix,
        "n_predict": settings.max_tokens,
        "temperature": 0,
        "top_k": 1,
        "cache_prompt": True,
        "stream": False,
        # llama.vim's limit on generation time; the same as the server's maxGenerateMs.
        "t_max_predict_ms": settings.max_generate_ms,
    }
    started = time.perf_counter()
    answer = _http_json(url + "/infill", payload)
    result.latencies_ms.append((time.perf_counter() - started) * 1000)
    timings = answer.get("timings", {})
    result.prompt_tokens += int(answer.get("tokens_evaluated", 0))
    result.prompt_tokens_evaluated += int(timings.get("prompt_n", 0))
    result.generated_tokens += int(timings.get("predicted_n", answer.get("tokens_predicted", 0)))


def run_llama_server(
    binary: str,
    model: Path,
    threads: int,
    settings: Settings,
    states: Sequence[BenchState],
    log_dir: Path,
) -> BaselineResult:
    """Same windows and token limit as ours, states in typing order so the prompt cache sees
    what it would see in an editor."""
    result = BaselineResult("llama-server")
    port = free_port()
    command = llama_server_command(binary, model, threads, port)
    env = llama_server_env(Path(binary))
    with running_engine(
        "llama-server", command, port, "/health", log_dir, LOAD_TIMEOUT_S, env
    ) as e:
        for state in states:
            try:
                _infill(e.url, state, settings, result)
            except OSError as error:  # a time-out included: keep the states already timed
                result.notes.append(f"stopped after {len(result.latencies_ms)} states: {error}")
                break
    result.notes.append(f"{binary}; /infill cache_prompt=true, --cache-reuse 256")
    return result
