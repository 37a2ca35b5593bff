"""When the model runs: the newest request wins, and the model works ahead while the editor
is quiet.

The editor has one cursor: a request anywhere means the user has moved on from the one
running, and the model runs one request at a time, so the new one would otherwise wait for the
old. When the editor goes quiet the model computes what the next request will likely need;
any request stops that at once (within one prompt batch).

Threads: every method here runs on the server's event loop and owns this object's state; the
model work runs in worker threads, which learn they must stop through a ``threading.Event``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from lsp_fim.backends.base import BackendError
from lsp_fim.engine import Completion, CompletionEngine, CompletionRequest

log = logging.getLogger(__name__)

# Quiet time before working ahead; typing at 10 characters a second never lets it start.
IDLE_WORK_DELAY_S = 0.3

IdleJob = Callable[[CompletionEngine, threading.Event], None]


class Scheduler:
    def __init__(self, current_engine: Callable[[], CompletionEngine | None]) -> None:
        self._current_engine = current_engine  # the engine when a job starts (may change)
        self._in_flight: threading.Event | None = None  # the running request's cancel
        self._idle_cancel = threading.Event()
        self._idle_tasks: set[asyncio.Task[None]] = set()

    def stop_work_ahead(self) -> None:
        self._idle_cancel.set()

    def work_when_idle(self, job: IdleJob) -> None:
        """Run ``job`` after a quiet moment, replacing any job not yet done."""
        self._idle_cancel.set()
        cancel = threading.Event()
        self._idle_cancel = cancel
        task = asyncio.get_running_loop().create_task(self._run_idle_job(job, cancel))
        self._idle_tasks.add(task)
        task.add_done_callback(self._idle_tasks.discard)

    async def _run_idle_job(self, job: IdleJob, cancel: threading.Event) -> None:
        await asyncio.sleep(IDLE_WORK_DELAY_S)
        engine = self._current_engine()
        if cancel.is_set() or engine is None:
            return
        try:
            await asyncio.to_thread(job, engine, cancel)
        except BackendError as error:  # an engine over HTTP that is down: said in one line
            log.warning("work ahead failed: %s", error)
        except Exception:  # work ahead is optional; its faults must not reach the editor
            log.exception("work ahead failed")

    async def run_newest_wins(
        self, engine: CompletionEngine, request: CompletionRequest, count: int = 1
    ) -> list[Completion]:
        """The engine's suggestions (``count`` > 1: its alternatives) in a worker thread,
        cancelling the request running before; empty when this one is cancelled. The first may
        be empty (nothing worth showing), as the engine says. Its :class:`BackendError` is the
        caller's to report."""
        self.stop_work_ahead()
        if self._in_flight is not None:
            self._in_flight.set()
        cancel = self._in_flight = threading.Event()
        try:
            return await asyncio.to_thread(_suggestions, engine, request, cancel, count)
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            if self._in_flight is cancel:
                self._in_flight = None


def _suggestions(
    engine: CompletionEngine, request: CompletionRequest, cancel: threading.Event, count: int
) -> list[Completion]:
    if count > 1:
        return engine.complete_alternatives(request, cancel, count)
    completion = engine.complete(request, cancel)
    return [completion] if completion is not None else []
