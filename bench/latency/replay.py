"""The replay: the trace typed into ``lsp-fim serve`` at a user's pace, every keystroke timed
from its request to its answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.latency.trace import (
    CORPUS_DIR,
    CorpusFile,
    TypedLine,
    deletion_change,
    document_state,
    keystroke_change,
)
from bench.lsp_client import SERVER_ROOT, Answer, LspProcess
from lsp_fim.config import Settings, wire_name
from lsp_fim.engine import EngineCounters

STATS_REQUEST = "lspFim/stats"
LOAD_TIMEOUT_S = 600.0
# A suggestion still pending when the user would move on is waited for up to this long, so
# that slow answers show in p95 instead of vanishing as "superseded" at the end of each line.
ANSWER_CAP_S = 60.0
CLIENT_NAME = "lsp-fim latency bench"
SHAPING_SETTINGS = (
    "model",
    "max_tokens",
    "max_generate_ms",
    "prefix_tokens",
    "suffix_tokens",
    "scope_stop",
    "threads",
    "template",
)


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


@dataclass
class ReplayResult:
    keystrokes: list[Keystroke]
    counters: EngineCounters
    peak_rss_kib: int | None
    load_s: float


def wire_settings(settings: Settings) -> dict[str, Any]:
    """Every setting that shapes a suggestion, sent explicitly so baselines match exactly
    (those left unset are the server's defaults)."""
    values = {name: getattr(settings, name) for name in SHAPING_SETTINGS}
    return {wire_name(name): value for name, value in values.items() if value is not None}


def suggestion_text(result: Any) -> str:
    """The first inline item's text, ``""`` for no suggestion (``null`` or an empty list)."""
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    if not items:
        return ""
    insert = items[0].get("insertText", "")
    return str(insert.get("value", "") if isinstance(insert, dict) else insert)


def counters_from_stats(stats: dict[str, Any]) -> EngineCounters:
    """``lspFim/stats`` (camelCase) back into the engine's own counters."""
    names = {wire_name(counter.name): counter.name for counter in fields(EngineCounters)}
    known = {names[key]: int(value) for key, value in stats.items() if key in names}
    return EngineCounters(**known)


class Typist:
    """Types the trace into open documents at a fixed rate, like a user at ``--cps``."""

    def __init__(self, server: LspProcess, timing: Timing) -> None:
        self._lsp = server
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
        stroke.request_id = self._lsp.request("textDocument/inlineCompletion", params)
        self._lsp.answer(stroke.request_id).add_done_callback(
            lambda done: self._on_answer(stroke, done)
        )
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

    def _on_answer(self, stroke: Keystroke, done: asyncio.Future[Answer]) -> None:
        record_answer(stroke, done)
        if stroke.superseded_at is None:
            task = asyncio.get_running_loop().create_task(self._check_cache(stroke))
            self._cache_checks.append(task)

    async def _check_cache(self, stroke: Keystroke) -> None:
        """Whether this answer came from the typed-through cache: the server's cache counter
        grew since the previous answer (stats answers arrive in the order they were asked)."""
        try:
            stats = await self._lsp.call(STATS_REQUEST, None, timeout=30)
        except (RuntimeError, TimeoutError, ConnectionError):
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


def record_answer(stroke: Keystroke, done: asyncio.Future[Answer]) -> None:
    """The answer's time and text, or its error (the server gone counts as one, at once)."""
    failure = done.exception()
    if failure is not None:
        stroke.answered_at, stroke.error = time.perf_counter(), str(failure)
        return
    answer = done.result()
    stroke.answered_at = answer.received
    if answer.error is not None:
        stroke.error = str(answer.error.get("message", answer.error))
    else:
        stroke.suggestion = suggestion_text(answer.result)


async def _sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def run_replay(
    files: Sequence[CorpusFile],
    trace: dict[str, list[TypedLine]],
    settings: dict[str, Any],
    timing: Timing,
    log_file: Path,
) -> ReplayResult:
    stderr = log_file.with_suffix(".stderr")
    log_file.unlink(missing_ok=True)
    stderr.unlink(missing_ok=True)
    lsp = await LspProcess.start(["--log-file", str(log_file), "serve"], settings, stderr)
    try:
        started = time.perf_counter()
        await lsp.initialize(SERVER_ROOT, {"lspFim": settings}, CLIENT_NAME)
        await _wait_until_loaded(lsp)
        load_s = time.perf_counter() - started
        typist = Typist(lsp, timing)
        for corpus_file in files:
            print(
                f"  typing {len(trace[corpus_file.name])} lines of {corpus_file.name}", flush=True
            )
            await typist.type_file(corpus_file, trace[corpus_file.name])
        await _settle(typist.keystrokes)
        await typist.finish()
        counters = counters_from_stats(await lsp.call(STATS_REQUEST, None, timeout=10))
        peak = lsp.status().get("VmHWM")
    finally:
        await lsp.stop()
    return ReplayResult(typist.keystrokes, counters, peak, load_s)


async def _wait_until_loaded(lsp: LspProcess) -> None:
    await asyncio.wait_for(lsp.ready.wait(), LOAD_TIMEOUT_S)
    message = lsp.progress_ends[-1] if lsp.progress_ends else ""
    if "ready" not in message:
        raise RuntimeError(f"model did not load: {message or 'server exited'}")


async def _settle(keystrokes: Sequence[Keystroke]) -> None:
    """Superseded requests must still be answered; give the last ones a moment to arrive."""
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and any(k.answered_at is None for k in keystrokes):
        await asyncio.sleep(0.05)
