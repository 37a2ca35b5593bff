"""Reliability at the editor boundary: the real server over stdio, fuzzed, loaded and faulted.

The raw client (``bench.lsp_client``, which can also send broken frames) drives the server;
this suite keeps its own model of every open document. It reports what an editor would
suffer: requests never answered, a server copy of a document that drifted from the editor's, a
process that died, an event loop blocked, memory or threads that grow.

Documents are modelled as the editor holds them: positions count UTF-16 code units (the LSP
default), lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (LSP's three, and no other:
``\\f``, ``\\v`` and ``\\u2028`` are text). Lone surrogates are code points of one UTF-16
unit, as in a JavaScript string, and go on the wire as ``\\udXXX`` escapes; a high surrogate
followed by a low one is a pair once sent (JSON joins the escapes), so the model joins them too.
Edits are made only at code-point boundaries and never between ``\\r`` and ``\\n``.

Run ``.venv/bin/python -m bench.reliability --help``; ``--soak`` runs far longer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.lsp_client import LspProcess

ANSWER_BOUND_S = 30.0  # a request not answered this long after it was sent is unanswered
PROBE_EVERY_S = 0.01
LOAD_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 10.0
# How much of a stuck server's log a failure shows (its threads' stacks are at the end).
STUCK_LOG_CHARS = 12_000
PHASES = ("fuzz", "pathological", "cycles", "storm", "faults")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Pieces of inserted text: code, LSP's line ends, and what breaks naive line splitting.
PIECES = (
    "x",
    "def f(a):\n",
    "    return a\n",
    "(",
    ")",
    "\t",
    "é",
    "\r\n",
    "\r",
    "\n",
    "\f",
    "\v",
    "\u2028",
    "\u2029",
    "\x85",
    "\U0001f600",
    "\U00010348",
    "\ud800",
    "\udc00",
    "\x00",
    "\x1c",
)


@dataclass
class Figures:
    messages: int = 0
    requests: int = 0
    crashes: int = 0
    unanswered: int = 0
    drifts: int = 0
    wrong_errors: int = 0
    longest_stall_ms: float = 0.0
    answer_ms: list[float] = field(default_factory=list)
    pathological_answer_ms: dict[str, float] = field(default_factory=dict)
    rss_start_kib: int = 0
    # After the first tenth of the cycles: the model's first runs allocate its buffers once.
    rss_warm_kib: int = 0
    rss_after_cycles_kib: int = 0
    peak_rss_kib: int = 0
    peak_threads: int = 0
    threads_after_storm: int = 0
    threads_before_storm: int = 0
    progress_unended: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        answers = sorted(self.answer_ms)
        data = asdict(self)
        data.pop("answer_ms")
        data["answer_p50_ms"] = round(_percentile(answers, 0.5), 1)
        data["answer_p99_ms"] = round(_percentile(answers, 0.99), 1)
        data["rss_growth_kib"] = self.rss_after_cycles_kib - self.rss_warm_kib
        return data


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


# --- the wire ---------------------------------------------------------------------------------


class Server(LspProcess):
    """``lsp-fim serve`` over stdio, its threads and resident memory sampled while it runs."""

    def __init__(self, process: asyncio.subprocess.Process, settings: dict[str, Any]) -> None:
        super().__init__(process, settings)
        self.peak_threads = 0
        self.peak_rss_kib = 0
        self._sampler = asyncio.get_running_loop().create_task(self._sample_loop())

    @classmethod
    async def open(cls, settings: dict[str, Any], log_file: Path, root: Path) -> Server:
        server = await cls.start(["serve"], settings, log_file)
        await server.initialize(root, settings, "lsp-fim reliability")
        return server

    async def _sample_loop(self) -> None:
        while self.process.returncode is None:
            status = self.status()
            self.peak_threads = max(self.peak_threads, status.get("Threads", 0))
            self.peak_rss_kib = max(self.peak_rss_kib, status.get("VmHWM", 0))
            await asyncio.sleep(0.05)

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        try:
            return await super().stop(timeout)
        finally:
            self._sampler.cancel()


# --- documents as the editor holds them ---------------------------------------------------


def joined_surrogates(text: str) -> str:
    """``text`` as it reads once sent: adjacent high and low surrogates make one character."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def lsp_position(text: str, offset: int) -> dict[str, int]:
    """The UTF-16 position of a code-point offset, lines ending at ``\\n``, ``\\r\\n``, ``\\r``."""
    line, start = 0, 0
    for match in LINE_BREAK.finditer(text, 0, offset):
        if match.end() > offset:
            break
        line, start = line + 1, match.end()
    units = sum(2 if ord(char) > 0xFFFF else 1 for char in text[start:offset])
    return {"line": line, "character": units}


@dataclass
class Document:
    uri: str
    text: str
    version: int = 0

    def boundaries(self, rng: random.Random) -> int:
        """A random offset that is a position: not between ``\\r`` and ``\\n``."""
        while True:
            offset = rng.randint(0, len(self.text))
            if not (0 < offset < len(self.text) and self.text[offset - 1 : offset + 1] == "\r\n"):
                return offset

    def edit(self, rng: random.Random) -> dict[str, Any]:
        """A random incremental change, applied to the model; the change event to send."""
        start, end = sorted((self.boundaries(rng), self.boundaries(rng)))
        if rng.random() < 0.95 or len(self.text) < 200:  # mostly typing; at times a cut
            end = min(len(self.text), start + rng.randint(0, 3))
            if end < len(self.text) and self.text[end - 1 : end + 1] == "\r\n":
                end += 1
        new = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4)))
        change = {
            "range": {"start": lsp_position(self.text, start), "end": lsp_position(self.text, end)},
            "text": new,
        }
        self.text = joined_surrogates(self.text[:start] + new + self.text[end:])
        self.version += 1
        return change


def minimal_diff(expected: str, actual: str) -> str:
    """Where two texts part, with a little context (they may go on differing after it)."""
    start = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    window = slice(max(0, start - 20), start + 20)
    return f"at offset {start}: client {expected[window]!r} server {actual[window]!r}"


# --- the fuzz -----------------------------------------------------------------------------


MALFORMED_PARAMS: tuple[Callable[[str], Any], ...] = (
    lambda uri: {"textDocument": {"uri": uri}, "position": "here"},
    lambda uri: {"textDocument": {"uri": uri}},
    lambda uri: {"textDocument": 5, "position": {"line": 0, "character": 0}},
    lambda uri: {"textDocument": {"uri": uri}, "position": {"line": -1, "character": 0}},
    lambda uri: {"textDocument": {"uri": uri}, "position": {"line": 2**63, "character": 10**30}},
    lambda uri: {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1.5}},
    lambda uri: None,
    lambda uri: [1, 2, 3],
    lambda uri: {"textDocument": {"uri": None}, "position": {"line": 0, "character": 0}},
)
INVALID_PARAMS = -32602
REQUEST_CANCELLED = -32800


class Fuzz:
    """Random traffic over a few open documents; drift checked after every batch."""

    def __init__(self, server: Server, rng: random.Random, figures: Figures, root: Path) -> None:
        self.server = server
        self.rng = rng
        self.figures = figures
        self.documents = [
            Document((root / f"fuzz {n}.py").as_uri(), "def f(a):\r\n    return a\r\n")
            for n in range(3)
        ]
        self.pending: list[int] = []
        self.malformed: set[int] = set()

    def open_all(self) -> None:
        for document in self.documents:
            self.server.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": document.uri,
                        "languageId": "python",
                        "version": document.version,
                        "text": document.text,
                    }
                },
            )

    async def batch(self, size: int) -> None:
        for _ in range(size):
            self.one_message()
        await self.server.drain()
        await self.settle()
        await self.check_documents()

    def one_message(self) -> None:
        roll = self.rng.random()
        document = self.rng.choice(self.documents)
        if roll < 0.35:
            change = [document.edit(self.rng) for _ in range(self.rng.randint(1, 3))]
            self.server.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": document.uri, "version": document.version},
                    "contentChanges": change,
                },
            )
        elif roll < 0.55:
            method = "textDocument/" + self.rng.choice(("inlineCompletion", "completion"))
            params: dict[str, Any] = {
                "textDocument": {"uri": document.uri},
                "position": lsp_position(document.text, document.boundaries(self.rng)),
            }
            if method.endswith("inlineCompletion"):
                params["context"] = {"triggerKind": 2}
            self.pending.append(self.server.request(method, params))
        elif roll < 0.65 and self.pending:
            self.server.notify("$/cancelRequest", {"id": self.rng.choice(self.pending[-20:])})
        elif roll < 0.85:
            self.malformed_request(document)
        elif roll < 0.93:
            self.broken_frame()
        else:
            self.pending.append(self.server.request("lspFim/stats", None))

    def malformed_request(self, document: Document) -> None:
        if self.rng.random() < 0.2:
            self.pending.append(self.server.request("lspFim/noSuchMethod", {"a": 1}))
            return
        method = "textDocument/" + self.rng.choice(("inlineCompletion", "completion"))
        params = self.rng.choice(MALFORMED_PARAMS)(document.uri)
        request_id = self.server.request(method, params)
        self.pending.append(request_id)
        self.malformed.add(request_id)

    def broken_frame(self) -> None:
        """A frame that carries no request the server could answer by id; a good request
        follows each, which must still be answered."""
        body = b'{"jsonrpc": "2.0", "id": 999999999, "method": "lspFim/stats"}'
        kind = self.rng.randrange(4)
        if kind == 0:
            self.server.write(b"Content-Length: 12\r\n\r\n{not json!!}")
        elif kind == 1:  # framed too long: swallows the start of the next message
            self.server.write(b"Content-Length: %d\r\n\r\n" % (len(body) + 40) + body)
        elif kind == 2:  # framed too short: the rest of the body reads as headers
            self.server.write(b"Content-Length: %d\r\n\r\n" % (len(body) - 20) + body)
        else:
            self.server.write(b'Content-Length: 9\r\n\r\n{"id": 1}')
        self.pending.append(self.server.request("lspFim/stats", None))

    async def settle(self) -> None:
        """Every request of the batch answered within the bound, or counted."""
        for request_id in self.pending:
            try:
                answer = await self.server.wait(request_id, ANSWER_BOUND_S)
            except (TimeoutError, ConnectionError):
                self.figures.unanswered += 1
                self.figures.notes.append(f"request {request_id} unanswered")
                continue
            self.figures.requests += 1
            latency = answer.received - self.server.sent_at[request_id]
            self.figures.answer_ms.append(latency * 1000)
            if request_id in self.malformed and answer.error is not None:
                # Params lenient structuring accepts (1.5 as a character) make a request that
                # a $/cancelRequest may then cancel: that answer is right too.
                code = answer.error.get("code")
                if code not in (INVALID_PARAMS, REQUEST_CANCELLED):
                    self.figures.wrong_errors += 1
                    self.figures.notes.append(f"request {request_id}: error {code}")
        self.pending.clear()
        self.malformed.clear()

    async def check_documents(self) -> None:
        for document in self.documents:
            served = await self.server.call("lspFim/documentText", {"uri": document.uri})
            text = served.get("text") if isinstance(served, dict) else None
            if text != document.text:
                self.figures.drifts += 1
                diff = minimal_diff(document.text, text or "")
                self.figures.notes.append(f"drift in {document.uri} v{document.version}: {diff}")
                print(f"DRIFT {document.uri}: {diff}", flush=True)
                document.text = text or ""


# --- stalls and pathological documents ----------------------------------------------------


class StallProbe:
    """``lspFim/stats`` sent every 10 ms while heavy work runs: its longest answer time is how
    long the event loop was blocked."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.longest_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StallProbe:
        self._task = asyncio.get_running_loop().create_task(self._probe())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _probe(self) -> None:
        while True:
            started = time.perf_counter()
            await self.server.call("lspFim/stats", None)
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - started) * 1000)
            await asyncio.sleep(PROBE_EVERY_S)


def pathological_documents() -> Iterator[tuple[str, str, int]]:
    """Name, text, and the cursor's offset in it."""
    line = "x = [" + ", ".join(["1"] * 666_000)
    yield "2M-char line", line[:2_000_000], 1_000_000
    nested = "v = " + "[" * 10_000 + "]" * 10_000 + "\n"
    yield "10k nested brackets", nested, 4 + 10_000
    block = "def f(a):\n    return a + 1\n\n"
    big = block * (5_000_000 // len(block))
    yield "5 MB file", big, len(big) // 2
    yield "NUL bytes", "a = 1\x00\nb = \x00\n" * 1000, 7


async def pathological(server: Server, figures: Figures, root: Path) -> None:
    for index, (name, text, cursor) in enumerate(pathological_documents()):
        uri = (root / f"heavy{index}.py").as_uri()
        started = time.perf_counter()
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": text}},
        )
        # The probe starts once the document is on its way: a probe behind it in the one
        # stdio stream would time the transfer, not the server.
        await server.drain()
        async with StallProbe(server) as probe:
            at = lsp_position(text, cursor)
            change = {"range": {"start": at, "end": at}, "text": "y"}
            server.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": 1}, "contentChanges": [change]},
            )
            position = lsp_position(text, cursor)
            position["character"] += 1
            request = server.request(
                "textDocument/inlineCompletion",
                {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}},
            )
            try:
                answer = await server.wait(request, ANSWER_BOUND_S)
                answer_ms = (answer.received - started) * 1000
            except (TimeoutError, ConnectionError):
                figures.unanswered += 1
                answer_ms = ANSWER_BOUND_S * 1000
            await asyncio.sleep(1.0)  # work ahead after the answer stalls too
        server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        figures.pathological_answer_ms[name] = round(answer_ms, 1)
        figures.longest_stall_ms = max(figures.longest_stall_ms, probe.longest_ms)
        print(f"{name}: answered in {answer_ms:.0f} ms, longest stall {probe.longest_ms:.0f} ms")


# --- faults and load ----------------------------------------------------------------------


async def open_close_cycles(server: Server, figures: Figures, root: Path, cycles: int) -> None:
    figures.rss_start_kib = server.status().get("VmRSS", 0)
    text = "import os\n\ndef f(a):\n    return a\n" * 50
    for n in range(cycles):
        uri = (root / f"cycle{n}.py").as_uri()
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": text}},
        )
        if n % 10 == 0:
            request = server.request(
                "textDocument/inlineCompletion",
                {
                    "textDocument": {"uri": uri},
                    "position": {"line": 3, "character": 4},
                    "context": {"triggerKind": 2},
                },
            )
            server.notify("$/cancelRequest", {"id": request})
        server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        if n % 100 == 0:
            await server.drain()
        if n + 1 == cycles // 10:
            figures.rss_warm_kib = await _settled_rss(server)
    figures.rss_after_cycles_kib = await _settled_rss(server)
    print(
        f"{cycles} open/close cycles: RSS {figures.rss_start_kib // 1024} -> "
        f"{figures.rss_warm_kib // 1024} after {cycles // 10} -> "
        f"{figures.rss_after_cycles_kib // 1024} MiB"
    )


async def _settled_rss(server: Server) -> int:
    """The server's RSS once it has read everything sent and finished its work ahead."""
    await server.call("lspFim/stats", None, timeout=120)
    await asyncio.sleep(2)
    return int(server.status().get("VmRSS", 0))


async def cancel_storm(server: Server, figures: Figures, root: Path, count: int) -> None:
    uri = (root / "storm.py").as_uri()
    text = "import math\n\n\ndef norm(x, y):\n    \n    return r\n"
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": text}},
    )
    await asyncio.sleep(1)
    figures.threads_before_storm = server.status().get("Threads", 0)
    ids = []
    for _ in range(count):
        request = server.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 4, "character": 4},
                "context": {"triggerKind": 2},
            },
        )
        ids.append(request)
        server.notify("$/cancelRequest", {"id": request})
    await server.drain()
    for request in ids:
        try:
            await server.wait(request, ANSWER_BOUND_S)
        except (TimeoutError, ConnectionError):
            figures.unanswered += 1
    await asyncio.sleep(3)
    figures.threads_after_storm = server.status().get("Threads", 0)
    print(
        f"cancel storm of {count}: threads {figures.threads_before_storm} -> "
        f"{figures.threads_after_storm}"
    )


async def model_changes(
    server: Server, figures: Figures, models: tuple[str, str], changes: int
) -> None:
    """``model`` changed while requests run; each load's progress ends, the last one wins."""
    for n in range(changes):
        server.settings = {**server.settings, "model": models[n % 2]}
        server.notify("workspace/didChangeConfiguration", {"settings": server.settings})
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while server.progress_open and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    figures.progress_unended += len(server.progress_open)
    print(f"{changes} model changes: {len(server.progress_open)} progress left open")


async def model_file_faults(server: Server, figures: Figures, model_copy: Path, root: Path) -> None:
    """The model file truncated, then deleted, under a serving process; each time a request
    the model must compute (a new document: no cached answer)."""
    await _until_the_model_answers(server, root)
    # Truncated first: the file the server has open is then the one cut (deleting first and
    # putting a copy back would leave the server on the deleted one, never truncated).
    for fault in ("truncated", "deleted"):
        if fault == "deleted":
            moved = model_copy.with_suffix(".moved")
            shutil.copyfile(model_copy, moved)
            model_copy.unlink()
        else:
            with model_copy.open("r+b") as file:
                file.truncate(1024)
        uri = (root / f"fault {fault}.py").as_uri()
        text = f"import math\n\n\ndef norm_{fault}(x, y):\n    \n    return r\n"
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": text}},
        )
        request = server.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 4, "character": 4},
                "context": {"triggerKind": 2},
            },
        )
        try:
            answer = await server.wait(request, ANSWER_BOUND_S)
        except (TimeoutError, ConnectionError):
            figures.unanswered += 1
            answer = None
        if server.process.returncode is not None:
            figures.crashes += 1
            figures.notes.append(f"the server died when its model file was {fault}")
            return
        print(f"model file {fault}: answered {json.dumps(answer and answer.message)[:80]}")
        if fault == "deleted":
            moved.rename(model_copy)
    print("model file truncated and deleted: the server lives on")


async def _until_the_model_answers(server: Server, root: Path) -> None:
    """Settings just changed: wait for the model they name to answer (not an empty answer
    from a server still loading it)."""
    uri = (root / "healthy.py").as_uri()
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": "x = "}},
    )
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        params = {
            "textDocument": {"uri": uri},
            "position": {"line": 0, "character": 4},
            "context": {"triggerKind": 1},
        }
        answer = await server.wait(server.request("textDocument/inlineCompletion", params))
        if answer.result:
            return
        await asyncio.sleep(0.2)


# --- the run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    messages: int
    batch: int
    cycles: int
    storm: int
    model_changes: int
    seed: int
    model: str | None
    phases: frozenset[str]


async def run(plan: Plan, work: Path) -> Figures:
    figures = Figures()
    rng = random.Random(plan.seed)
    settings: dict[str, Any] = {"maxGenerateMs": 300}
    if plan.model:
        settings["model"] = plan.model
    root = work / "project é"
    root.mkdir(exist_ok=True)
    log_file = work / "server.log"
    server = await Server.open(settings, log_file, root)
    try:
        await asyncio.wait_for(server.ready.wait(), LOAD_TIMEOUT_S)
        await _phases(server, figures, plan, rng, root, work)
    except BaseException as error:
        await server.stop()
        error.add_note(_stuck_note(server, log_file))
        raise
    figures.messages = server.messages_sent
    figures.peak_threads = server.peak_threads
    figures.peak_rss_kib = max(server.peak_rss_kib, server.status().get("VmHWM", 0))
    if server.process.returncode is not None:
        figures.crashes += 1
    code = await server.stop()
    if code not in (0, None):
        figures.notes.append(f"server exit status {code}")
    if server.stuck:
        figures.notes.append(_stuck_note(server, log_file))
    return figures


def _stuck_note(server: Server, log_file: Path) -> str:
    """The end of the server's log, which holds its threads' stacks when it had to be killed
    (:meth:`LspProcess.stop`)."""
    if not server.stuck:
        return "the server ended when asked to"
    tail = log_file.read_text(encoding="utf-8", errors="replace")[-STUCK_LOG_CHARS:]
    return f"the server did not end when asked to; the end of its log:\n{tail}"


async def _phases(
    server: Server, figures: Figures, plan: Plan, rng: random.Random, root: Path, work: Path
) -> None:
    if "fuzz" in plan.phases:
        await _phase(server, figures, "fuzz", lambda: _fuzz(server, figures, rng, root, plan))
    if "pathological" in plan.phases:
        await _phase(server, figures, "pathological", lambda: pathological(server, figures, root))
    if "cycles" in plan.phases:
        await _phase(
            server,
            figures,
            "open/close",
            lambda: open_close_cycles(server, figures, root, plan.cycles),
        )
    if "storm" in plan.phases:
        await _phase(
            server, figures, "storm", lambda: cancel_storm(server, figures, root, plan.storm)
        )
    if "faults" in plan.phases and plan.model:
        model_copy = work / "model copy.gguf"
        shutil.copyfile(plan.model, model_copy)
        models = (str(model_copy), plan.model)
        await _phase(
            server,
            figures,
            "model changes",
            lambda: model_changes(server, figures, models, plan.model_changes),
        )
        if server.settings.get("model") != str(model_copy):  # the last setting wins
            await _phase(
                server, figures, "model changes", lambda: model_changes(server, figures, models, 1)
            )
        await _phase(
            server,
            figures,
            "model file",
            lambda: model_file_faults(server, figures, model_copy, root),
        )


async def _phase(
    server: Server, figures: Figures, name: str, body: Callable[[], Awaitable[None]]
) -> None:
    if server.process.returncode is not None:
        return
    started = time.perf_counter()
    await body()
    if server.process.returncode is not None:
        figures.crashes += 1
        figures.notes.append(f"the server died during {name}")
    print(f"[{name}: {time.perf_counter() - started:.1f} s]", flush=True)


async def _fuzz(
    server: Server, figures: Figures, rng: random.Random, root: Path, plan: Plan
) -> None:
    fuzz = Fuzz(server, rng, figures, root)
    fuzz.open_all()
    sent = 0
    while sent < plan.messages and server.process.returncode is None:
        await fuzz.batch(plan.batch)
        sent += plan.batch
    print(f"fuzz: {server.messages_sent} messages, {figures.drifts} drifts")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--soak", action="store_true", help="a long run: 20x the messages")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=10_000, help="open/close cycles")
    parser.add_argument("--storm", type=int, default=1_000, help="requests in the cancel storm")
    parser.add_argument("--model-changes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", help="GGUF path (default: the cached default model)")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated, of {', '.join(PHASES)} (default: all)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    scale = 20 if args.soak else 1
    model = args.model
    if model is None:
        from lsp_fim.models import resolve_model

        model = str(resolve_model(None))
    return Plan(
        messages=args.messages * scale,
        batch=200,
        cycles=args.cycles * scale,
        storm=args.storm * scale,
        model_changes=args.model_changes,
        seed=args.seed,
        model=model,
        phases=frozenset(args.phases.split(",")),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = plan_from(args)
    with tempfile.TemporaryDirectory(prefix="lsp-fim-reliability ") as work:
        figures = asyncio.run(run(plan, Path(work)))
    summary = figures.summary()
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    failed = figures.crashes or figures.unanswered or figures.drifts
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
