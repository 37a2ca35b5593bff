"""Keystroke-to-suggestion latency, replayed over stdio the way an editor drives the server.

Real files from ``bench/corpus`` are opened in ``lsp-fim serve``; chosen lines are emptied and
retyped one character at a time, each keystroke an incremental ``didChange`` followed by
``textDocument/inlineCompletion``, a still-pending request cancelled with ``$/cancelRequest``
(as Neovim and VS Code do). The same document states are then replayed through two baselines
(llama-cpp-python's high-level API with the whole prompt each time, and llama-server's
``/infill`` with ``cache_prompt`` and ``--cache-reuse 256``) and through the server's own engine
with a cold cache, to check that speed did not change the suggestions. Model workloads run one
after another: on a 2-core machine two at once would measure contention, not latency.

Run ``.venv/bin/python bench/latency.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import lsp_fim
from bench.cold import start_cold
from lsp_fim.backends.kv_reuse import common_prefix_length
from lsp_fim.config import Settings, wire_name
from lsp_fim.engine import CompletionRequest, EngineCounters, request_window
from lsp_fim.languages import language_id_for_path
from lsp_fim.templates import FimTemplate, detect_template, load_template

BENCH_DIR = Path(__file__).resolve().parent
CORPUS_DIR = BENCH_DIR / "corpus"
DEFAULT_OUT = BENCH_DIR / "results" / "latency"
# The first file is the "~2k-token file" whose first suggestion after a pause is reported.
DEFAULT_FILES = ("graphlib.py", "ini.js", "branching.ts", "sha256.c")
CORPUS_SUFFIX = ".txt"
STATS_REQUEST = "lspFim/stats"
LOAD_TIMEOUT_S = 600.0
# A suggestion still pending when the user would move on is waited for up to this long, so
# that slow answers show in p95 instead of vanishing as "superseded" at the end of each line.
ANSWER_CAP_S = 60.0

# ``python -m`` puts the working directory first on sys.path: start the server where the
# lsp_fim imported here lives, so both sides run the same code (a clean clone included).
SERVER_ROOT = Path(lsp_fim.__file__).resolve().parent.parent

T = TypeVar("T")


# --- the trace: which lines are retyped, and the document at each keystroke -------------------


@dataclass(frozen=True)
class CorpusFile:
    """A vendored real file, under the name (and so the language) an editor would see."""

    name: str
    text: str

    @property
    def language_id(self) -> str:
        return language_id_for_path(self.name)


@dataclass(frozen=True)
class TypedLine:
    """One line to retype: everything after its indentation is removed first."""

    line: int
    indent: str
    text: str


_COMMENT_STARTS = ("#", "//", "/*", "*", '"""', "'''", "<!--")


_CODE_PUNCTUATION = re.compile(r"[()=\[\]{};]")
_WORD = re.compile(r"\b[A-Za-z_][A-Za-z_0-9]{2,}")  # not within hex literals like 0x4d2c6dfc


def is_typable(line: str) -> bool:
    """Indented code of typing length: long enough for several requests, short enough that a
    line fits the default run, ASCII so that LSP columns equal code-point columns. Code
    punctuation and a real identifier keep out docstring prose, data tables and macro bodies."""
    body = line.lstrip(" \t")
    return (
        line != body
        and 20 <= len(body) <= 60
        and body == body.rstrip()
        and body.isascii()
        and not body.startswith(_COMMENT_STARTS)
        and not body.endswith("\\")
        and _CODE_PUNCTUATION.search(body) is not None
        and _WORD.search(body) is not None
    )


def choose_lines(text: str, count: int) -> list[TypedLine]:
    """``count`` typable lines spread evenly over the middle of the file (20 %..90 %), where
    both the prefix and the suffix windows have real content; deterministic, no seed."""
    lines = text.split("\n")
    low, high = len(lines) // 5, (len(lines) * 9) // 10
    candidates = [n for n in range(low, high) if is_typable(lines[n].rstrip("\r"))]
    chosen = evenly_sample(candidates, count)
    return [_typed_line(lines[n].rstrip("\r"), n) for n in chosen]


def _typed_line(line: str, number: int) -> TypedLine:
    body = line.lstrip(" \t")
    return TypedLine(number, line[: len(line) - len(body)], body)


def evenly_sample(items: Sequence[T], count: int) -> list[T]:
    """At most ``count`` items, evenly spaced and in their original order."""
    if count >= len(items):
        return list(items)
    if count <= 0:
        return []
    return [items[int((index + 0.5) * len(items) / count)] for index in range(count)]


def document_state(text: str, typed: TypedLine, typed_chars: int) -> tuple[str, int]:
    """The document after the first ``typed_chars`` characters of the emptied line were typed
    back, and the cursor's code-point offset; ``typed_chars == len(typed.text)`` is the
    original file again."""
    lines = text.split("\n")
    head = "\n".join(lines[: typed.line])
    start = len(head) + (1 if typed.line else 0) + len(typed.indent)
    old_end = start + len(typed.text)
    partial = typed.text[:typed_chars]
    return text[:start] + partial + text[old_end:], start + len(partial)


def deletion_change(typed: TypedLine) -> dict[str, Any]:
    """The incremental change that empties the line after its indentation."""
    column = len(typed.indent)
    return {
        "range": _range(typed.line, column, typed.line, column + len(typed.text)),
        "text": "",
    }


def keystroke_change(typed: TypedLine, index: int) -> dict[str, Any]:
    """The incremental change that types character ``index`` of the line."""
    column = len(typed.indent) + index
    return {"range": _range(typed.line, column, typed.line, column), "text": typed.text[index]}


def _range(line: int, start: int, end_line: int, end: int) -> dict[str, Any]:
    return {
        "start": {"line": line, "character": start},
        "end": {"line": end_line, "character": end},
    }


def load_corpus(names: Sequence[str]) -> list[CorpusFile]:
    """The named files; a missing name is an error that lists what exists."""
    available = sorted(p.name.removesuffix(CORPUS_SUFFIX) for p in CORPUS_DIR.glob("*.txt"))
    files = []
    for name in names:
        if name not in available:
            raise SystemExit(f"no corpus file {name!r}; available: {', '.join(available)}")
        path = CORPUS_DIR / (name + CORPUS_SUFFIX)
        files.append(CorpusFile(name, path.read_text(encoding="utf-8")))
    return files


# --- statistics ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), so p50 of an even count
    is the midpoint and small samples are not rounded to one observation."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p95_ms: float | None
    mean_ms: float | None


def summarize(latencies_ms: Sequence[float]) -> LatencySummary:
    mean = sum(latencies_ms) / len(latencies_ms) if latencies_ms else None
    return LatencySummary(
        len(latencies_ms), percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.95), mean
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def per(total: int | None, count: int | None) -> float | None:
    if total is None or not count:
        return None
    return total / count


# --- server counters: lspFim/stats, or the log when the request does not exist ----------------


def counters_from_stats(stats: dict[str, Any]) -> EngineCounters:
    """``lspFim/stats`` (camelCase) back into the engine's own counters."""
    names = {wire_name(counter.name): counter.name for counter in fields(EngineCounters)}
    known = {names[key]: int(value) for key, value in stats.items() if key in names}
    return EngineCounters(**known)


def peak_rss_kib(status_text: str) -> int | None:
    """``VmHWM`` from ``/proc/<pid>/status``: the resident peak, which a reading of the
    current RSS at the end would understate."""
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status_text, re.MULTILINE)
    return int(match[1]) if match else None


# --- a minimal LSP client over the server's stdio ----------------------------------------------


@dataclass
class Response:
    result: Any = None
    error: dict[str, Any] | None = None
    received: float = 0.0


class LspConnection:
    """Just enough JSON-RPC to drive the server like an editor. Responses are timestamped when
    read off the pipe, so a busy client loop never adds to the measured latency."""

    def __init__(self, process: asyncio.subprocess.Process, settings: dict[str, Any]) -> None:
        self.process = process
        self._settings = settings
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Response]] = {}
        self.loaded = asyncio.Event()
        self.load_message = ""
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def start(
        cls, command: Sequence[str], settings: dict[str, Any], stderr: Path
    ) -> LspConnection:
        """stderr goes to a file: a pipe nobody reads could fill up and stall the server."""
        with stderr.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                cwd=SERVER_ROOT,
            )
        return cls(process, settings)

    def send_request(self, method: str, params: Any) -> tuple[int, asyncio.Future[Response]]:
        self._next_id += 1
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        self._write({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        return self._next_id, future

    async def request(self, method: str, params: Any = None, timeout: float = 60.0) -> Any:
        _, future = self.send_request(method, params)
        response = await asyncio.wait_for(future, timeout)
        if response.error is not None:
            raise RuntimeError(f"{method}: {response.error.get('message', response.error)}")
        return response.result

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def cancel(self, request_id: int) -> None:
        self.notify("$/cancelRequest", {"id": request_id})

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        body = json.dumps(message).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read_loop(self) -> None:
        assert self.process.stdout is not None
        stdout = self.process.stdout
        while True:
            length = 0
            while (header := await stdout.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if header == b"":
                self._fail_pending("server closed its output")
                return
            message = json.loads(await stdout.readexactly(length))
            self._dispatch(message, time.perf_counter())

    def _dispatch(self, message: dict[str, Any], received: float) -> None:
        if "method" not in message:
            future = self._pending.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(Response(message.get("result"), message.get("error"), received))
        elif "id" in message:
            result = self._answer_server_request(message["method"], message.get("params"))
            self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})
        elif message["method"] == "$/progress":
            self._on_progress(message.get("params") or {})

    def _answer_server_request(self, method: str, params: Any) -> Any:
        """workDoneProgress/create must be accepted or the load is not reported."""
        if method == "workspace/configuration":
            return [self._settings for _ in (params or {}).get("items", [])]
        return None

    def _on_progress(self, params: dict[str, Any]) -> None:
        value = params.get("value") or {}
        if value.get("kind") == "end":
            self.load_message = str(value.get("message", ""))
            self.loaded.set()

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_result(Response(error={"message": reason}, received=time.perf_counter()))
        self._pending.clear()
        self.loaded.set()

    async def initialize(self, root: Path) -> None:
        capabilities = {
            "window": {"workDoneProgress": True, "showMessage": {}},
            "workspace": {"configuration": True},
            "textDocument": {
                "synchronization": {"didSave": False, "dynamicRegistration": False},
                "inlineCompletion": {"dynamicRegistration": False},
            },
            "general": {"positionEncodings": ["utf-16"]},
        }
        await self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "clientInfo": {"name": "lsp-fim latency bench"},
                "rootUri": root.as_uri(),
                "capabilities": capabilities,
                "initializationOptions": {"lspFim": self._settings},
            },
        )
        self.notify("initialized", {})

    async def wait_until_loaded(self) -> None:
        await asyncio.wait_for(self.loaded.wait(), LOAD_TIMEOUT_S)
        if "ready" not in self.load_message:
            raise RuntimeError(f"model did not load: {self.load_message or 'server exited'}")

    async def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout=30)
            self.notify("exit", None)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


# --- the replay -------------------------------------------------------------------------------


@dataclass
class Keystroke:
    """One keystroke and its request; the document state is kept for the baselines."""

    file: str
    language_id: str
    line: int
    column: int
    text: str = field(repr=False)
    offset: int
    sent: float
    first_after_open: bool = False
    ends_line: bool = False
    request_id: int = 0
    answered_at: float | None = None
    superseded_at: float | None = None
    suggestion: str | None = None
    error: str | None = None
    from_cache: bool | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None and self.superseded_at is None and self.error is None

    @property
    def latency_ms(self) -> float | None:
        return (self.answered_at - self.sent) * 1000 if self.answered_at is not None else None


@dataclass(frozen=True)
class Timing:
    interval_s: float
    pause_s: float
    open_pause_s: float


def suggestion_text(result: Any) -> str:
    """The first inline item's text, ``""`` for no suggestion (``null`` or an empty list)."""
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    if not items:
        return ""
    insert = items[0].get("insertText", "")
    return str(insert.get("value", "") if isinstance(insert, dict) else insert)


class Typist:
    """Types the trace into open documents at a fixed rate, like a user at ``--cps``."""

    def __init__(self, connection: LspConnection, timing: Timing) -> None:
        self._lsp = connection
        self._timing = timing
        self._version = 0
        self.keystrokes: list[Keystroke] = []
        self._pending: Keystroke | None = None
        self._from_cache_seen = 0
        self._cache_checks: list[asyncio.Task[None]] = []

    async def type_file(self, corpus_file: CorpusFile, lines: Sequence[TypedLine]) -> None:
        uri = (CORPUS_DIR / corpus_file.name).as_uri()
        self._version = 1
        document = {"uri": uri, "languageId": corpus_file.language_id, "version": 1}
        self._lsp.notify(
            "textDocument/didOpen", {"textDocument": {**document, "text": corpus_file.text}}
        )
        for index, typed in enumerate(lines):
            self._change(uri, deletion_change(typed))
            if index == 0:
                await asyncio.sleep(self._timing.open_pause_s)
            await self._type_line(uri, corpus_file, typed, first_after_open=index == 0)
        self._lsp.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    async def _type_line(
        self, uri: str, corpus_file: CorpusFile, typed: TypedLine, first_after_open: bool
    ) -> None:
        started = time.perf_counter()
        for index in range(len(typed.text)):
            await _sleep_until(started + index * self._timing.interval_s)
            stroke = self._press(uri, corpus_file, typed, index)
            if first_after_open and index == 0:
                # The user looks for the first suggestion before typing on; its latency is
                # reported on its own row, so it must not be cut short by the next keystroke.
                stroke.first_after_open = True
                await self._wait_for_answer(stroke, 0.0)
                started = time.perf_counter() - self._timing.interval_s
        last = self.keystrokes[-1]
        last.ends_line = True
        await self._wait_for_answer(last, self._timing.pause_s)

    def _press(self, uri: str, corpus_file: CorpusFile, typed: TypedLine, index: int) -> Keystroke:
        self._supersede_pending()
        state, offset = document_state(corpus_file.text, typed, index + 1)
        column = len(typed.indent) + index + 1
        stroke = Keystroke(
            corpus_file.name, corpus_file.language_id, typed.line, column, state, offset, 0.0
        )
        stroke.sent = time.perf_counter()
        self._change(uri, keystroke_change(typed, index))
        params = {
            "textDocument": {"uri": uri},
            "position": {"line": typed.line, "character": column},
            "context": {"triggerKind": 2},
        }
        stroke.request_id, future = self._lsp.send_request("textDocument/inlineCompletion", params)
        future.add_done_callback(lambda done: self._on_answer(stroke, done.result()))
        self.keystrokes.append(stroke)
        self._pending = stroke
        return stroke

    def _supersede_pending(self) -> None:
        stroke, self._pending = self._pending, None
        if stroke is not None and stroke.answered_at is None:
            stroke.superseded_at = time.perf_counter()
            self._lsp.cancel(stroke.request_id)

    def _change(self, uri: str, change: dict[str, Any]) -> None:
        self._version += 1
        self._lsp.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": self._version}, "contentChanges": [change]},
        )

    def _on_answer(self, stroke: Keystroke, response: Response) -> None:
        _record_answer(stroke, response)
        if stroke.superseded_at is None:
            task = asyncio.get_running_loop().create_task(self._check_cache(stroke))
            self._cache_checks.append(task)

    async def _check_cache(self, stroke: Keystroke) -> None:
        """Whether this answer came from the typed-through cache: the server's cache counter
        grew since the previous answer (stats answers arrive in the order they were asked)."""
        try:
            stats = await self._lsp.request(STATS_REQUEST, None, timeout=30)
        except (RuntimeError, TimeoutError):
            return
        seen = int(stats.get("fromCache", 0))
        stroke.from_cache, self._from_cache_seen = seen > self._from_cache_seen, seen

    async def finish(self) -> None:
        await asyncio.gather(*self._cache_checks)

    async def _wait_for_answer(self, stroke: Keystroke, at_least_s: float) -> None:
        """Wait ``at_least_s`` (reading the suggestion), longer while it is still coming."""
        deadline = stroke.sent + at_least_s
        cap = stroke.sent + ANSWER_CAP_S
        while time.perf_counter() < cap and (
            stroke.answered_at is None or time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.01)


def _record_answer(stroke: Keystroke, response: Response) -> None:
    stroke.answered_at = response.received
    if response.error is not None:
        stroke.error = str(response.error.get("message", response.error))
    else:
        stroke.suggestion = suggestion_text(response.result)


async def _sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


@dataclass
class ReplayResult:
    keystrokes: list[Keystroke]
    counters: EngineCounters
    peak_rss_kib: int | None
    load_s: float


def server_command(log_file: Path) -> list[str]:
    return [sys.executable, "-m", "lsp_fim", "--log-file", str(log_file), "serve"]


async def run_replay(
    files: Sequence[CorpusFile],
    trace: dict[str, list[TypedLine]],
    settings: dict[str, Any],
    timing: Timing,
    log_file: Path,
) -> ReplayResult:
    log_file.unlink(missing_ok=True)
    stderr = log_file.with_suffix(".stderr")
    lsp = await LspConnection.start(server_command(log_file), settings, stderr)
    try:
        started = time.perf_counter()
        await lsp.initialize(BENCH_DIR.parent)
        await lsp.wait_until_loaded()
        load_s = time.perf_counter() - started
        typist = Typist(lsp, timing)
        for corpus_file in files:
            print(
                f"  typing {len(trace[corpus_file.name])} lines of {corpus_file.name}", flush=True
            )
            await typist.type_file(corpus_file, trace[corpus_file.name])
        await _settle(typist.keystrokes)
        await typist.finish()
        counters = await _server_counters(lsp)
        peak = peak_rss_kib(Path(f"/proc/{lsp.process.pid}/status").read_text())
    finally:
        await lsp.shutdown()
    return ReplayResult(typist.keystrokes, counters, peak, load_s)


async def _settle(keystrokes: Sequence[Keystroke]) -> None:
    """Superseded requests must still be answered; give the last ones a moment to arrive."""
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and any(k.answered_at is None for k in keystrokes):
        await asyncio.sleep(0.05)


async def _server_counters(lsp: LspConnection) -> EngineCounters:
    return counters_from_stats(await lsp.request(STATS_REQUEST, None, timeout=10))


# --- document states shared by the baselines --------------------------------------------------


@dataclass(frozen=True)
class BenchState:
    """A document state at which the server answered, with the prompt the server would build."""

    file: str
    language_id: str
    text: str
    offset: int
    server_suggestion: str
    server_latency_ms: float
    server_from_cache: bool | None = None
    prefix: str = ""
    suffix: str = ""
    prompt: str = ""

    @property
    def path(self) -> str:
        return str(CORPUS_DIR / self.file)


def sample_states(keystrokes: Sequence[Keystroke], count: int) -> list[BenchState]:
    answered = [k for k in keystrokes if k.answered]
    return [
        BenchState(
            k.file,
            k.language_id,
            k.text,
            k.offset,
            k.suggestion or "",
            k.latency_ms or 0.0,
            k.from_cache,
        )
        for k in evenly_sample(answered, count)
    ]


def with_prompts(
    states: Sequence[BenchState],
    settings: Settings,
    template: FimTemplate,
    count_tokens: Callable[[str], int],
) -> list[BenchState]:
    """The server's windows and prompt for each state (``CompletionEngine._prompt``'s steps)."""
    result = []
    for state in states:
        request = CompletionRequest(state.text, state.offset, state.language_id, state.path)
        window = request_window(request, settings, count_tokens)
        prompt = template.render(window.prefix, window.suffix, path=state.path)
        result.append(
            BenchState(
                **{
                    **asdict(state),
                    "prefix": window.prefix,
                    "suffix": window.suffix,
                    "prompt": prompt,
                }
            )
        )
    return result


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


def _open_llama(model: Path, threads: int, vocab_only: bool = False) -> Any:
    """The same construction as the server's backend, so both pay for the same context."""
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(model),
        n_ctx=4096,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        vocab_only=vocab_only,
        verbose=False,
    )


def server_template(settings: Settings, llama: Any) -> FimTemplate:
    """The template the server picks (``load_engine``'s rule) for this model."""
    from lsp_fim.backends.llama_cpp import LlamaVocabulary

    if settings.template:
        return load_template(settings.template)
    return detect_template(LlamaVocabulary(llama))


def token_counter(llama: Any) -> Callable[[str], int]:
    """``LlamaCppBackend.count_tokens``: plain text, special tokens not parsed."""

    def count(text: str) -> int:
        return (
            len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0
        )

    return count


def run_naive(
    model: Path,
    threads: int,
    settings: Settings,
    template: FimTemplate,
    states: Sequence[BenchState],
) -> BaselineResult:
    """The full prompt through ``create_completion`` each time; llama-cpp-python keeps its own
    prompt-prefix reuse, which is what a user of that API gets."""
    result = BaselineResult("naive")
    llama = _open_llama(model, threads)
    for _, token in template.detection.fim_tokens:
        if len(llama.tokenize(token.encode(), add_bos=False, special=True)) != 1:
            result.notes.append(f"{token!r} is not one token: prompts are wrong")
    result.notes.append("prompt passed as tokens (special tokens parsed), as the server does")
    for state in states:
        tokens = llama.tokenize(state.prompt.encode("utf-8"), add_bos=False, special=True)
        reused = common_prefix_length(list(llama._input_ids), tokens)
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


def _stream_within(chunks: Iterator[Any], limit_ms: int) -> int:
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


def cold_suggestions(settings: Settings, states: Sequence[BenchState]) -> list[str]:
    """The engine's suggestion at each state with a cold model cache and nothing remembered:
    what the server should have said had no optimisation been at work."""
    from lsp_fim.engine import CompletionRequest, load_engine

    engine = load_engine(settings)
    suggestions = []
    for state in states:
        start_cold(engine.backend)
        engine.update_settings(engine.settings)  # forgets remembered suggestions
        completion = engine.complete(
            CompletionRequest(state.text, state.offset, state.language_id, state.path)
        )
        suggestions.append(completion.text if completion else "")
    del engine
    return suggestions


# --- llama-server /infill (what llama.vim and llama.vscode use) -------------------------------


def find_llama_server(option: str | None) -> tuple[str | None, str]:
    """The binary from ``--llama-server``, ``$LLAMA_SERVER`` or ``PATH``, or why there is none."""
    candidate = option or os.environ.get("LLAMA_SERVER") or shutil.which("llama-server")
    if not candidate:
        return None, "no llama-server binary (use --llama-server PATH or $LLAMA_SERVER)"
    if not (Path(candidate).is_file() and os.access(candidate, os.X_OK)):
        return None, f"{candidate} is not an executable file"
    return candidate, ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_json(url: str, payload: dict[str, Any] | None = None, timeout: float = 120) -> Any:
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=timeout) as r:
        return json.loads(r.read())


@contextlib.contextmanager
def llama_server(binary: str, model: Path, threads: int, log_file: Path) -> Iterator[str]:
    """A llama-server as llama.vim recommends it (prompt cache with ``--cache-reuse 256``),
    one slot with the same 4096-token context as ours."""
    port = _free_port()
    command = [
        binary,
        "-m",
        str(model),
        "--ctx-size",
        "4096",
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
    with log_file.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama-server exited with {process.returncode}")
        with contextlib.suppress(OSError, ValueError):
            if _http_json(url + "/health", timeout=5).get("status") == "ok":
                return
        time.sleep(0.5)
    raise RuntimeError("llama-server did not become healthy")


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
    log_file: Path,
) -> BaselineResult:
    """Same windows and token limit as ours, states in typing order so the prompt cache sees
    what it would see in an editor."""
    result = BaselineResult("llama-server")
    with llama_server(binary, model, threads, log_file) as url:
        for state in states:
            try:
                _infill(url, state, settings, result)
            except OSError as error:  # a time-out included: keep the states already timed
                result.notes.append(f"stopped after {len(result.latencies_ms)} states: {error}")
                break
    result.notes.append(f"{binary}; /infill cache_prompt=true, --cache-reuse 256")
    return result


# --- report -----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


_TABLE_HEAD = (
    "| mode | p50 ms | p95 ms | mean ms | answered | from cache | prompt tokens evaluated / "
    "model run | generated tokens / model run | p50 vs lsp-fim |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(row: dict[str, Any]) -> str:
    if row.get("skipped"):
        return f"| {row['name']} | skipped: {row['skipped']} | | | | | | | |"
    latency = row["latency"]
    cells = [
        row["name"],
        _ms(latency["p50_ms"]),
        _ms(latency["p95_ms"]),
        _ms(latency["mean_ms"]),
        str(latency["count"]),
        _share(row.get("cache_share")),
        _num(row.get("prompt_tokens_evaluated_per_run")),
        _num(row.get("generated_tokens_per_run")),
        "1.0x" if row["name"] == "lsp-fim" else _ratio(row.get("ratio_vs_ours")),
    ]
    return "| " + " | ".join(cells) + " |"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def markdown_report(report: dict[str, Any]) -> str:
    replay, machine = report["replay"], report["machine"]
    first = report["first_suggestion_after_open"]
    agreement = report.get("agreement") or {}
    lines = [
        f"# Latency replay ({report['date']})",
        "",
        _TABLE_HEAD,
        *(table_row(row) for row in report["rows"]),
        "",
        f"- Keystrokes: {replay['keystrokes']}; answered {replay['answered']} "
        f"({_share(replay['answered_share'])}; {replay['non_empty']} with a suggestion), "
        f"superseded {replay['superseded']}, errors {replay['errors']}, "
        f"never answered {replay['unanswered']}.",
        f"- At the end of each line, where the user pauses: p50 "
        f"{_ms(replay['line_end']['p50_ms'])} ms, p95 {_ms(replay['line_end']['p95_ms'])} ms "
        f"over {replay['line_end']['count']} lines (p50 over answered requests alone favours a "
        f"server so slow that only typed-through cache answers beat the next keystroke).",
        *_model_answer_line(replay),
        f"- First suggestion after opening {first['file']} ({first['file_tokens']} tokens) and "
        f"pausing {first['pause_s']:g} s: **{_ms(first['latency_ms'])} ms** "
        f"(every file: {', '.join(_ms(v) for v in first['per_file_ms'])} ms).",
        f"- Agreement with the engine on a cold cache: {_agreement(agreement)}.",
        f"- Peak RSS of the server: {_num(report['peak_rss_mib'], 0)} MiB; model file "
        f"{_num(report['model_mib'], 0)} MiB (RSS - model: {_num(report['rss_over_model_mib'], 0)}"
        " MiB).",
        f"- Server counters ({STATS_REQUEST}): {_counters(report['counters'])}.",
        f"- Trace: {report['trace']['lines']} lines in {', '.join(report['trace']['files'])} at "
        f"{report['trace']['cps']:g} chars/s, {report['trace']['pause_s']:g} s pause per line; "
        f"baselines on {report['trace']['baseline_states']} of the answered states.",
        f"- Settings: {report['settings']}.",
        f"- Machine: {machine['cpu_count']} CPUs, {machine['platform']}, Python "
        f"{machine['python']}{_load(machine)}.",
        f"- Server code: {_source(report.get('server_source'))}.",
    ]
    lines += [f"- {row['name']}: {note}" for row in report["rows"] for note in row.get("notes", [])]
    return "\n".join(lines) + "\n"


def _load(machine: dict[str, Any]) -> str:
    """Other work on a 2-core machine inflates every latency; say how busy it was."""
    load = machine.get("load_average_at_end")
    return f"; load average {load[0]:.1f} (1 min) at the end" if load else ""


def _source(source: dict[str, Any] | None) -> str:
    if not source:
        return "unknown"
    changed = source["changed_files"]
    dirty = f", with uncommitted changes: {'; '.join(changed)}" if changed else ""
    return f"{source['root']} at {source['commit'][:10] or 'unknown commit'}{dirty}"


def _agreement(agreement: dict[str, Any]) -> str:
    if not agreement:
        return "not measured"
    parts = [f"{agreement['agreed']}/{agreement['states']} ({_share(agreement['share'])})"]
    for key, label in (("model_answers", "model answers"), ("cache_answers", "cache answers")):
        if part := agreement.get(key):
            parts.append(f"{label} {part['agreed']}/{part['states']}")
    starts = agreement.get("starts_alike")
    alike = f"; the cold answer starts with the server's in {starts}" if starts is not None else ""
    return parts[0] + " exact match" + "".join(f"; {p}" for p in parts[1:]) + alike


def _counters(counters: dict[str, Any]) -> str:
    names = (
        "requests",
        "from_cache",
        "cancelled",
        "empty",
        "model_runs",
        "prompt_tokens",
        "prompt_tokens_evaluated",
        "generated_tokens",
    )
    return ", ".join(f"{name} {counters[name]}" for name in names)


# --- putting it together ----------------------------------------------------------------------


def cache_share(answered: Sequence[Keystroke], counters: EngineCounters) -> float | None:
    """Per answer when the server told us (``lspFim/stats`` after each one), else estimated
    from the totals (a cache answer takes a millisecond, so it is never superseded)."""
    known = [k.from_cache for k in answered if k.from_cache is not None]
    if known:
        return sum(known) / len(known)
    return min(1.0, counters.from_cache / len(answered)) if answered else None


def ours_row(replay: ReplayResult) -> dict[str, Any]:
    answered = [k for k in replay.keystrokes if k.answered]
    counters = replay.counters
    return {
        "name": "lsp-fim",
        "latency": asdict(summarize([k.latency_ms or 0.0 for k in answered])),
        "cache_share": cache_share(answered, counters),
        "prompt_tokens_evaluated_per_run": per(
            counters.prompt_tokens_evaluated, counters.model_runs
        ),
        "generated_tokens_per_run": per(counters.generated_tokens, counters.model_runs),
        "prompt_tokens_per_run": per(counters.prompt_tokens, counters.model_runs),
        "prompt_tokens_evaluated_per_request": per(counters.prompt_tokens_evaluated, len(answered)),
    }


def baseline_row(result: BaselineResult, ours_p50: float | None) -> dict[str, Any]:
    if result.skipped:
        return {"name": result.name, "skipped": result.skipped, "notes": result.notes}
    summary = result.summary()
    runs = summary.count
    return {
        "name": result.name,
        "latency": asdict(summary),
        "cache_share": 0.0,
        "prompt_tokens_evaluated_per_run": per(result.prompt_tokens_evaluated, runs),
        "generated_tokens_per_run": per(result.generated_tokens, runs),
        "prompt_tokens_per_run": per(result.prompt_tokens, runs),
        "ratio_vs_ours": ratio(summary.p50_ms, ours_p50),
        "notes": result.notes,
    }


def replay_summary(keystrokes: Sequence[Keystroke]) -> dict[str, Any]:
    answered = [k for k in keystrokes if k.answered]
    superseded = [k for k in keystrokes if k.superseded_at is not None]
    cancel_ack = [
        (k.answered_at - k.superseded_at) * 1000
        for k in superseded
        if k.answered_at is not None and k.superseded_at is not None
    ]
    line_ends = [k.latency_ms or 0.0 for k in answered if k.ends_line]
    model_answers = [k.latency_ms or 0.0 for k in answered if k.from_cache is False]
    return {
        "keystrokes": len(keystrokes),
        "answered": len(answered),
        "answered_share": len(answered) / len(keystrokes) if keystrokes else None,
        "line_end": asdict(summarize(line_ends)),
        "model_answers": asdict(summarize(model_answers)),
        "non_empty": sum(1 for k in answered if k.suggestion),
        "superseded": len(superseded),
        "errors": sum(1 for k in keystrokes if k.error and k.superseded_at is None),
        "unanswered": sum(1 for k in keystrokes if k.answered_at is None),
        "cancel_to_answer": asdict(summarize(cancel_ack)),
    }


def _model_answer_line(replay: dict[str, Any]) -> list[str]:
    """Answers the model computed (no cache): the like-for-like figure against the baselines,
    which never answer from a cache."""
    model = replay.get("model_answers")
    if not model or not model["count"]:
        return []
    return [
        f"- Answers computed by the model (not from a cache): p50 {_ms(model['p50_ms'])} ms, "
        f"p95 {_ms(model['p95_ms'])} ms over {model['count']}."
    ]


def first_after_open(
    keystrokes: Sequence[Keystroke],
    files: Sequence[CorpusFile],
    pause_s: float,
    count_tokens: Callable[[str], int],
) -> dict[str, Any]:
    firsts = [k for k in keystrokes if k.first_after_open]
    head = files[0]
    return {
        "file": head.name,
        "file_tokens": count_tokens(head.text),
        "pause_s": pause_s,
        "latency_ms": firsts[0].latency_ms if firsts and firsts[0].answered else None,
        "suggestion": firsts[0].suggestion if firsts else None,
        "per_file_ms": [k.latency_ms if k.answered else None for k in firsts],
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/latency.py",
        description="Replay typing against `lsp-fim serve` and report keystroke latency.",
    )
    parser.add_argument("--model", help="GGUF path or known name (default: the default model)")
    parser.add_argument(
        "--files", nargs="+", help=f"corpus files (default: {' '.join(DEFAULT_FILES)})"
    )
    parser.add_argument("--lines-per-file", type=int, default=4)
    parser.add_argument("--cps", type=float, default=10.0, help="typing speed, characters/s")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds after each typed line")
    parser.add_argument(
        "--open-pause",
        type=float,
        default=10.0,
        help="seconds between opening a file and its first keystroke",
    )
    parser.add_argument("--baseline-states", type=int, default=40)
    parser.add_argument("--no-baselines", action="store_true", help="skip naive and llama-server")
    parser.add_argument("--no-agreement", action="store_true", help="skip the cold-cache check")
    parser.add_argument("--llama-server", help="llama-server binary (else $LLAMA_SERVER, PATH)")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 file, 2 lines, 6 baseline states"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.files = args.files or [DEFAULT_FILES[0]]
        args.lines_per_file = min(args.lines_per_file, 2)
        args.baseline_states = min(args.baseline_states, 6)
    args.files = args.files or list(DEFAULT_FILES)
    return args


def bench_settings(args: argparse.Namespace, model: Path) -> Settings:
    settings = Settings(model=str(model))
    return settings if args.threads is None else replace(settings, threads=args.threads)


def wire_settings(settings: Settings) -> dict[str, Any]:
    """Every setting that shapes a suggestion, sent explicitly so baselines match exactly."""
    return {
        "model": settings.model,
        "maxTokens": settings.max_tokens,
        "maxGenerateMs": settings.max_generate_ms,
        "prefixTokens": settings.prefix_tokens,
        "suffixTokens": settings.suffix_tokens,
        "scopeStop": settings.scope_stop,
        "threads": settings.threads,
    }


def main(argv: Sequence[str] | None = None) -> int:
    from lsp_fim.models import resolve_model

    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model = resolve_model(args.model)
    settings = bench_settings(args, model)
    files = load_corpus(args.files)
    trace = {f.name: choose_lines(f.text, args.lines_per_file) for f in files}
    timing = Timing(1.0 / args.cps, args.pause, args.open_pause)
    warn_if_busy()

    print(f"replay: {sum(map(len, trace.values()))} lines against lsp-fim serve", flush=True)
    replay = asyncio.run(
        run_replay(files, trace, wire_settings(settings), timing, args.out / "server.log")
    )
    run = BenchRun(args, model, settings, files, trace, replay)
    # Written now and again at the end: the baselines take long, the replay is the point.
    write_report(args.out, build_report(run, [], None), quiet=True)
    baselines = _baselines(args, model, settings, run.template, run.states)
    agreement = None if args.no_agreement else _agreement_report(settings, run.states)
    write_report(args.out, build_report(run, baselines, agreement))
    return 0


def write_report(out: Path, report: dict[str, Any], quiet: bool = False) -> None:
    (out / "latency.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = markdown_report(report)
    (out / "latency.md").write_text(markdown, encoding="utf-8")
    if not quiet:
        print(markdown)
        print(f"wrote {out / 'latency.json'} and {out / 'latency.md'}")


class BenchRun:
    """The replay and what every later step shares: the template and the sampled states."""

    def __init__(
        self,
        args: argparse.Namespace,
        model: Path,
        settings: Settings,
        files: Sequence[CorpusFile],
        trace: dict[str, list[TypedLine]],
        replay: ReplayResult,
    ) -> None:
        self.args, self.model, self.settings = args, model, settings
        self.files, self.trace, self.replay = files, trace, replay
        vocab = _open_llama(model, settings.threads, vocab_only=True)
        self.template = server_template(settings, vocab)
        self.count_tokens = token_counter(vocab)
        sampled = sample_states(replay.keystrokes, args.baseline_states)
        self.states = with_prompts(sampled, settings, self.template, self.count_tokens)


def warn_if_busy() -> None:
    """Two cores shared with another model workload give numbers about the sharing."""
    load = os.getloadavg()[0]
    if load > 1.0:
        print(f"warning: load average {load:.1f}: other work will inflate the latencies")


def build_report(
    run: BenchRun, baselines: Sequence[BaselineResult], agreement: dict[str, Any] | None
) -> dict[str, Any]:
    """Every number of the run, as written to JSON and rendered to Markdown."""
    args, model, replay = run.args, run.model, run.replay
    ours = ours_row(replay)
    rows = [ours, *(baseline_row(b, ours["latency"]["p50_ms"]) for b in baselines)]
    model_mib = model.stat().st_size / 2**20
    peak_mib = replay.peak_rss_kib / 1024 if replay.peak_rss_kib else None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": rows,
        "replay": replay_summary(replay.keystrokes),
        "first_suggestion_after_open": first_after_open(
            replay.keystrokes, run.files, args.open_pause, run.count_tokens
        ),
        "agreement": agreement,
        "counters": asdict(replay.counters),
        "peak_rss_mib": peak_mib,
        "model_mib": model_mib,
        "rss_over_model_mib": None if peak_mib is None else peak_mib - model_mib,
        "model": str(model),
        "model_load_s": replay.load_s,
        "settings": wire_settings(run.settings),
        "trace": {
            "files": [f.name for f in run.files],
            "lines": sum(map(len, run.trace.values())),
            "typed": {name: [asdict(t) for t in lines] for name, lines in run.trace.items()},
            "cps": args.cps,
            "pause_s": args.pause,
            "open_pause_s": args.open_pause,
            "baseline_states": len(run.states),
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "server_source": server_source(),
        "keystrokes": [_keystroke_json(k) for k in replay.keystrokes],
    }


def server_source() -> dict[str, Any]:
    """Which code was measured: the commit, and whether lsp_fim/ had uncommitted changes
    (another change in progress in the same checkout changes what the numbers mean)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(SERVER_ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "lsp_fim").splitlines()
    return {"root": str(SERVER_ROOT), "commit": git("rev-parse", "HEAD"), "changed_files": changed}


def _keystroke_json(stroke: Keystroke) -> dict[str, Any]:
    return {
        "file": stroke.file,
        "line": stroke.line,
        "column": stroke.column,
        "latency_ms": stroke.latency_ms,
        "superseded": stroke.superseded_at is not None,
        "first_after_open": stroke.first_after_open,
        "ends_line": stroke.ends_line,
        "from_cache": stroke.from_cache,
        "suggestion": stroke.suggestion,
        "error": stroke.error,
    }


def _baselines(
    args: argparse.Namespace,
    model: Path,
    settings: Settings,
    template: FimTemplate,
    states: Sequence[BenchState],
) -> list[BaselineResult]:
    if args.no_baselines:
        return []
    print(f"naive baseline: {len(states)} states", flush=True)
    naive = run_naive(model, settings.threads, settings, template, states)
    binary, why = find_llama_server(args.llama_server)
    if binary is None:
        print(f"llama-server baseline skipped: {why}", flush=True)
        return [naive, BaselineResult("llama-server", skipped=why)]
    print(f"llama-server baseline: {len(states)} states", flush=True)
    try:
        served = run_llama_server(
            binary, model, settings.threads, settings, states, args.out / "llama-server.log"
        )
    except (RuntimeError, OSError) as error:
        print(f"llama-server baseline skipped: {error}", flush=True)
        served = BaselineResult("llama-server", skipped=str(error))
    return [naive, served]


def _agreement_report(settings: Settings, states: Sequence[BenchState]) -> dict[str, Any]:
    print(f"agreement: {len(states)} states on a cold cache", flush=True)
    # The whole cold answer: the server's may be its start, cut by maxGenerateMs.
    cold = cold_suggestions(replace(settings, max_generate_ms=0), states)
    return agreement_report(states, cold)


def agreement_report(states: Sequence[BenchState], cold: Sequence[str]) -> dict[str, Any]:
    """Split by where the server's answer came from: a typed-through cache answer is the rest
    of an older generation, which a fresh one at the new state need not repeat."""
    pairs = list(zip(states, cold, strict=True))

    def count(selected: list[tuple[BenchState, str]]) -> dict[str, Any]:
        agreed = sum(1 for state, text in selected if text == state.server_suggestion)
        starts = sum(1 for state, text in selected if text.startswith(state.server_suggestion))
        return {
            "states": len(selected),
            "agreed": agreed,
            "share": per(agreed, len(selected)),
            "starts_alike": starts,
        }

    return {
        **count(pairs),
        "model_answers": count([p for p in pairs if p[0].server_from_cache is False]),
        "cache_answers": count([p for p in pairs if p[0].server_from_cache]),
        "disagreeing": [
            {
                "file": s.file,
                "offset": s.offset,
                "from_cache": s.server_from_cache,
                "server": s.server_suggestion,
                "cold": text,
            }
            for s, text in pairs
            if text != s.server_suggestion
        ],
    }


if __name__ == "__main__":
    sys.exit(main())
