"""The language server: owns settings, the engine's lifecycle and the open documents.

Handlers stay thin (see ``lsp_fim.handlers``); this class holds the state they share. The model
loads in the background after ``initialized``; until it is ready every request is answered at
once with no suggestion, never left waiting. A request runs as :mod:`lsp_fim.document_request`
(the document) and :mod:`lsp_fim.scheduling` (newest wins, work ahead when quiet) say.

Threads, and who owns what (the one place that says so):

- The event loop owns everything this class holds: settings, the engine reference, the
  documents (pygls's workspace), the recent-documents list and the scheduler (with the
  in-flight cancel events). Only it reads or replaces them.
- Worker threads get what they need as arguments and report back only through
  ``threading.Event`` (cancel) and ``loop.call_soon_threadsafe`` (load progress): the model load
  (``load_engine``; one at a time), the editor's request (``engine.complete``) and the work
  ahead (``engine.prefill`` / ``complete_ahead``). The last two may overlap: what they share
  inside the engine is guarded there (see :class:`~lsp_fim.engine.CompletionEngine`), and the
  backend runs the model for one of them at a time.
- The stdin reader (``lsp_fim.transport``) only reads bytes and hands them to the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from typing import BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path, urlparse
from pygls.workspace import TextDocument

from lsp_fim import __version__, transport
from lsp_fim.acceptance import AcceptanceStats
from lsp_fim.backends.base import BackendError
from lsp_fim.config import Settings, engine_reload_needed, settings_from_wire
from lsp_fim.document_request import DocumentSnapshot, OtherDocument, request_from, usable
from lsp_fim.engine import Completion, CompletionEngine, load_engine
from lsp_fim.models import ModelStoreError
from lsp_fim.positions import Encoding
from lsp_fim.positions import Position as TextPosition
from lsp_fim.privacy import is_denied, may_be_context
from lsp_fim.related_files import RecentDocuments
from lsp_fim.scheduling import Scheduler
from lsp_fim.templates import TemplateError

log = logging.getLogger(__name__)

# An inference engine that could not be reached at start is tried again on a request at most
# this often: editors are often started before the engine.
ENGINE_RETRY_S = 5.0


class FimServer(LanguageServer):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            "lsp-fim",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=transport.FimProtocol,
        )
        self.startup_settings = settings
        self.settings = settings
        self.engine: CompletionEngine | None = None
        self.engine_error: str | None = None
        self._engine_task: asyncio.Task[None] | None = None
        self._engine_wanted = 0  # counts engine (re)loads asked for; the newest one is loaded
        self._engine_retry_at: float | None = None  # when an unreachable engine is tried again
        self.scheduler = Scheduler(lambda: self.engine)
        self.recent_documents = RecentDocuments()
        self._last_request_fault: str | None = None
        self.acceptance = AcceptanceStats()  # lsp_fim.acceptance: what the editor reports

    # transport -----------------------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """LSP over stdin/stdout, framed by :mod:`lsp_fim.transport` (every request answered,
        bounded reads, the channel kept from native code) instead of pygls's loop."""
        self._stop_event = threading.Event()
        streams = (stdin, stdout) if stdin is not None and stdout is not None else None
        try:
            transport.serve_stdio(self.protocol, self._stop_event, streams)
        except BrokenPipeError:
            log.error("the editor closed the connection")
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    def start_tcp(self, host: str, port: int) -> None:
        """One client session over TCP (see :class:`lsp_fim.transport.SingleClientListener`)."""
        self._stop_event = threading.Event()
        try:
            transport.serve_tcp(self.protocol, self._stop_event, host, port)
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    # settings ------------------------------------------------------------------------------

    def apply_settings(self, options: object) -> bool:
        """Apply wire settings; returns whether the engine must be (re)loaded."""
        settings, problems = settings_from_wire(
            options,  # type: ignore[arg-type]
            self.settings,
            self.startup_settings,
        )
        for problem in problems:
            self.tell_user(types.MessageType.Warning, f"lsp-fim: {problem}")
        reload = engine_reload_needed(self.settings, settings)
        self.settings = settings
        if self.engine is not None and not reload:
            self.engine.update_settings(settings)
        return reload

    def tell_user(self, kind: types.MessageType, message: str) -> None:
        log.log(logging.WARNING if kind <= types.MessageType.Warning else logging.INFO, message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    # engine lifecycle ----------------------------------------------------------------------

    def start_loading_engine(self) -> None:
        """Load the engine the current settings name. A load cannot be stopped midway (it is
        llama.cpp's, in a thread): settings changed meanwhile are loaded after it, so one load
        runs at a time, each one's progress ends, and the last settings win."""
        self.engine = None
        self._engine_retry_at = None
        self._engine_wanted += 1
        if self._engine_task is None or self._engine_task.done():
            self._engine_task = asyncio.get_running_loop().create_task(self._load_latest_engine())

    async def _load_latest_engine(self) -> None:
        while True:
            wanted = self._engine_wanted
            await self._load_engine(wanted)
            if wanted == self._engine_wanted:
                return

    async def _load_engine(self, wanted: int) -> None:
        """Load for the current settings, unless newer ones came meanwhile (``wanted`` is
        this load's number, see ``start_loading_engine``)."""
        progress = EngineProgress(self)
        await progress.begin()
        settings = self.settings
        try:
            engine = await asyncio.to_thread(load_engine, settings, progress.report)
        except Exception as error:  # every load fault is reported, none may kill the server
            superseded = wanted != self._engine_wanted
            progress.end("superseded by new settings" if superseded else "failed")
            if not superseded:
                self._report_load_fault(error)
            return
        if wanted != self._engine_wanted:  # the settings changed while it loaded: next load
            progress.end("superseded by new settings")
            return
        engine.update_settings(self.settings)
        self.engine, self.engine_error = engine, None
        progress.end(f"ready ({engine.template.name})")

    def _report_load_fault(self, error: Exception) -> None:
        user_fixable = isinstance(error, ModelStoreError | BackendError | TemplateError)
        log.error("model failed to load: %s", error, exc_info=not user_fixable)
        if str(error) != self.engine_error:  # a retry that fails alike is not news
            self.tell_user(types.MessageType.Error, f"lsp-fim: model not loaded: {error}")
        self.engine_error = str(error)
        if isinstance(error, BackendError):
            self._engine_retry_at = time.monotonic() + ENGINE_RETRY_S

    def open_document(self, uri: str) -> TextDocument | None:
        """The document the editor opened at ``uri``; never one read from disk. pygls keys
        documents by the %-decoded URI, which editors send encoded (``my%20proj``)."""
        document: TextDocument | None = self.workspace.text_documents.get(document_key(uri))
        return document

    def forget_document(self, uri: str) -> None:
        """A closed document leaves no trace: not context, not in the suggestion cache."""
        self.recent_documents.forget(document_key(uri))
        if self.engine is not None:
            self.engine.forget_document(to_fs_path(uri) or urlparse(uri)[2])  # as pygls's path

    def document_snapshot(self, uri: str, position: types.Position) -> DocumentSnapshot | None:
        """What a request at ``position`` in ``uri`` needs, taken now (see
        :mod:`lsp_fim.document_request`); None when ``uri`` gets no suggestion."""
        document = self.open_document(uri)
        if document is None:  # pygls would read the file from disk, which may not exist
            log.warning("%s was never opened (didOpen): no suggestion", uri)
            return None
        if is_denied(document.path, self.settings.exclude):
            log.info("%s may hold secrets (deny-list, exclude): no suggestion", uri)
            return None
        if not usable(document.source):
            log.warning("%s is too large or binary: no suggestion", uri)
            return None
        root = self.workspace.root_path
        return DocumentSnapshot(
            uri,
            document.source,
            TextPosition(position.line, position.character),
            self.position_encoding(),
            document.language_id,
            document.path,
            name=_name_in(root, document.path),
            repo=os.path.basename(os.path.normpath(root)) if root else None,
            others=self._possible_context(uri),
        )

    def _possible_context(self, uri: str) -> tuple[OtherDocument, ...]:
        """The other open documents, newest first, that may be context: usable, and files in
        the workspace folders that may be read (``privacy``)."""
        root = self.workspace.root_path
        folders = [to_fs_path(folder.uri) for folder in self.workspace.folders.values()]
        roots = [path for path in (root, *folders) if path]
        others = []
        for other, line in self.recent_documents.others(document_key(uri)):
            document = self.open_document(other)
            if document is None or not usable(document.source):
                continue
            if not may_be_context(document.path, roots, self.settings.exclude):
                continue
            name = _name_in(root, document.path)
            others.append(OtherDocument(name, document.path, document.source, line))
        return tuple(others)

    # completion ----------------------------------------------------------------------------

    def position_encoding(self) -> Encoding:
        encoding = str(self.workspace.position_encoding or "utf-16")
        return encoding if encoding in ("utf-8", "utf-32") else "utf-16"  # type: ignore[return-value]

    async def complete_at(
        self, uri: str, position: types.Position, count: int = 1
    ) -> tuple[str, list[Completion]] | None:
        """The suggestions at ``position`` (``count`` > 1: alternatives for an explicit
        request), none empty; any newer request cancels this one: the editor has one cursor,
        and a request elsewhere means the user has moved on (the model runs one request at a
        time, so the new one would otherwise wait for the old)."""
        self.scheduler.stop_work_ahead()
        self.recent_documents.touch(document_key(uri), position.line)
        engine = self.engine
        if engine is None:
            log.info("request before the model is ready: empty answer (%s)", self.engine_error)
            self._retry_engine()
            return None
        snapshot = self.document_snapshot(uri, position)
        request = await asyncio.to_thread(request_from, snapshot) if snapshot else None
        if request is None:
            return None
        try:
            found = await self.scheduler.run_newest_wins(engine, request, count)
        except BackendError as error:  # e.g. an engine over HTTP that is down or refuses
            self._report_request_fault(str(error))
            return None
        self._last_request_fault = None
        shown = found[0] if found else None
        self.scheduler.work_when_idle(
            lambda engine, cancel: engine.work_ahead_after(request, shown, cancel)
        )
        suggestions = [completion for completion in found if completion.text]
        return (request.text, suggestions) if suggestions else None

    def _retry_engine(self) -> None:
        """An engine that was down at start may be up now (a missing model file is not
        retried: only the user can fix that)."""
        retry_at = self._engine_retry_at
        if retry_at is not None and time.monotonic() >= retry_at:
            log.info("trying the inference engine again")
            self.start_loading_engine()

    def _report_request_fault(self, fault: str) -> None:
        """Every fault is logged; the editor is told once, not on every keystroke, until a
        request succeeds again."""
        if fault == self._last_request_fault:
            log.warning("no suggestion: %s", fault)
            return
        self._last_request_fault = fault
        self.tell_user(types.MessageType.Warning, f"lsp-fim: no suggestion: {fault}")


def document_key(uri: str) -> str:
    """One key per document however its URI is escaped: pygls's own (it unquotes once)."""
    return unquote(uri)


def _name_in(root: str | None, path: str) -> str:
    """A document's path as the model sees it: within the workspace, else its file name."""
    root = os.path.abspath(root) if root else None
    if root and os.path.commonpath([root, os.path.abspath(path)]) == root:
        return os.path.relpath(path, root)
    return os.path.basename(path)


class EngineProgress:
    """``$/progress`` for the model load, when the client supports server-initiated progress."""

    def __init__(self, server: FimServer) -> None:
        self._server = server
        self._token = f"lsp-fim/model-load/{uuid.uuid4().hex}"
        self._active = False
        self._last_percent = -1
        self._loop = asyncio.get_running_loop()

    async def begin(self) -> None:
        capabilities = self._server.client_capabilities
        if not (capabilities.window and capabilities.window.work_done_progress):
            return
        try:
            await self._server.work_done_progress.create_async(self._token)
        except Exception:  # a client may refuse; loading goes on without a bar
            log.info("client refused a progress token")
            return
        self._active = True
        self._server.work_done_progress.begin(
            self._token, types.WorkDoneProgressBegin(title="lsp-fim: loading model", percentage=0)
        )

    def report(self, message: str, done: int, total: int) -> None:
        """Called from the loading thread; forwards to the event loop."""
        percent = int(done * 100 / total) if total else 0
        if not self._active or percent == self._last_percent:
            return
        self._last_percent = percent
        value = types.WorkDoneProgressReport(message=message, percentage=percent)
        self._loop.call_soon_threadsafe(self._server.work_done_progress.report, self._token, value)

    def end(self, message: str) -> None:
        if self._active:
            self._server.work_done_progress.end(
                self._token, types.WorkDoneProgressEnd(message=message)
            )
            self._server.work_done_progress.tokens.pop(self._token, None)
            self._active = False
