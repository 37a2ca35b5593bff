"""LSP handlers: parse params, ask the server for a completion, shape the LSP result."""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, replace
from functools import partial
from typing import Any

from lsprotocol import types

from lsp_fim.acceptance import ACCEPT_COMMAND, ANSWER_ID_FIELD, model_label
from lsp_fim.config import Settings, wire_name
from lsp_fim.document_request import DocumentSnapshot, request_from
from lsp_fim.documents import use_lsp_lines
from lsp_fim.engine import MAX_ALTERNATIVES, CompletionEngine
from lsp_fim.lsp_results import completion_list, inline_completion_list
from lsp_fim.privacy import is_denied
from lsp_fim.server import FimServer, document_key

log = logging.getLogger(__name__)

SETTINGS_SECTION = "lspFim"
STATS_REQUEST = "lspFim/stats"
DOCUMENT_TEXT_REQUEST = "lspFim/documentText"
# What became of a suggestion, as the editor saw it (``lsp_fim.acceptance``).
DID_SHOW_COMPLETION = "lspFim/didShowCompletion"
DID_ACCEPT_COMPLETION = "lspFim/didAcceptCompletion"
DID_PARTIALLY_ACCEPT_COMPLETION = "lspFim/didPartiallyAcceptCompletion"


def _section(options: Any) -> Any:
    """Settings may arrive bare or wrapped in their section name; accept both."""
    if isinstance(options, dict) and SETTINGS_SECTION in options:
        return options[SETTINGS_SECTION]
    return options


def on_initialize(ls: FimServer, params: types.InitializeParams) -> None:
    use_lsp_lines(ls.workspace)
    ls.apply_settings(_section(params.initialization_options))


def on_initialized(ls: FimServer, params: types.InitializedParams) -> None:
    ls.start_loading_engine()


async def on_did_change_configuration(
    ls: FimServer, params: types.DidChangeConfigurationParams
) -> None:
    options = _section(params.settings)
    if not isinstance(options, dict) or not options:
        options = await _pull_configuration(ls)
    if options is not None and ls.apply_settings(options):
        ls.start_loading_engine()


async def _pull_configuration(ls: FimServer) -> Any:
    capabilities = ls.client_capabilities.workspace
    if not (capabilities and capabilities.configuration):
        return None
    items = [types.ConfigurationItem(section=SETTINGS_SECTION)]
    results = await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
    return results[0] if results else None


def on_did_open(ls: FimServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.recent_documents.touch(document_key(params.text_document.uri), 0)
    snapshot = ls.document_snapshot(params.text_document.uri, types.Position(0, 0))
    if snapshot is not None:
        ls.scheduler.work_when_idle(partial(_prefill_document, snapshot))


def on_did_change(ls: FimServer, params: types.DidChangeTextDocumentParams) -> None:
    """Clients that do not ask on every keystroke (menus, manual triggers) still find the
    prompt at the last edit cached; the usual request right after a change cancels this."""
    last = params.content_changes[-1] if params.content_changes else None
    if not isinstance(last, types.TextDocumentContentChangePartial):
        return
    ls.recent_documents.touch(document_key(params.text_document.uri), last.range.start.line)
    snapshot = ls.document_snapshot(params.text_document.uri, last.range.start)
    if snapshot is not None:
        ls.scheduler.work_when_idle(partial(_prefill_typed, snapshot, len(last.text)))


def _prefill_document(
    snapshot: DocumentSnapshot, engine: CompletionEngine, cancel: threading.Event
) -> None:
    if (request := request_from(snapshot)) is not None:
        engine.prefill_document(request, cancel)


def _prefill_typed(
    snapshot: DocumentSnapshot, typed: int, engine: CompletionEngine, cancel: threading.Event
) -> None:
    """The prompt with the cursor after the ``typed`` characters of the last change."""
    if (request := request_from(snapshot)) is not None:
        engine.prefill(replace(request, offset=request.offset + typed), cancel)


def on_did_close(ls: FimServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.forget_document(params.text_document.uri)


async def on_inline_completion(
    ls: FimServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    """An explicit request (``Invoked``: the user asked, or cycles through suggestions) gets
    up to :data:`MAX_ALTERNATIVES`; one typing asks for gets one."""
    explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    count = MAX_ALTERNATIVES if explicit else 1
    result = await ls.complete_at(params.text_document.uri, params.position, count)
    if result is None:
        return None
    text, completions = result
    answer = inline_completion_list(text, completions, ls.position_encoding())
    for item, completion in zip(answer.items, completions, strict=True):
        if (answer_id := _answer_id(ls, params.text_document.uri, completion.text)) is not None:
            # Accepting ghost text runs the item's command (VS Code, Neovim 0.12): its argument.
            item.command = types.Command(
                title="lsp-fim: accepted", command=ACCEPT_COMMAND, arguments=[answer_id]
            )
    return answer


def _answer_id(ls: FimServer, uri: str, text: str) -> str | None:
    """The id the editor names when it reports the suggestion shown or accepted
    (``lsp_fim.acceptance``); None when counting is off."""
    document = ls.open_document(uri)
    if not ls.settings.acceptance_stats or ls.engine is None or document is None:
        return None
    language = document.language_id or "unknown"
    return ls.acceptance.remember(language, model_label(ls.engine.settings), len(text))


async def on_completion(
    ls: FimServer, params: types.CompletionParams
) -> types.CompletionList | None:
    # Menus ask with ``Invoked`` while the user types too: one suggestion, as for typing.
    result = await ls.complete_at(params.text_document.uri, params.position)
    if result is None:
        return types.CompletionList(is_incomplete=True, items=[])
    text, (completion, *_) = result
    answer = completion_list(text, completion, ls.position_encoding())
    if (answer_id := _answer_id(ls, params.text_document.uri, completion.text)) is not None:
        # In ``data``, which clients keep and never act on: a command would be run on accept
        # by editors that do not know it (Helix), as a request the server would have to serve.
        answer.items[0].data = {ANSWER_ID_FIELD: answer_id}
    return answer


def on_stats(ls: FimServer, params: Any) -> dict[str, Any]:
    """``lspFim/stats``: the engine's counters, camelCase (none before the model is loaded),
    and ``acceptance``, the suggestions shown and accepted per language and model."""
    counters = asdict(ls.engine.counters_snapshot()) if ls.engine is not None else {}
    stats: dict[str, Any] = {wire_name(name): value for name, value in counters.items()}
    if ls.settings.acceptance_stats:
        stats["acceptance"] = ls.acceptance.summary()
    return stats


def _reported_id(ls: FimServer, params: Any) -> str | None:
    """The suggestion a report names, when counting is on."""
    answer_id = getattr(params, "id", None)
    if not ls.settings.acceptance_stats or not isinstance(answer_id, str):
        return None
    return answer_id


def on_did_show_completion(ls: FimServer, params: Any) -> None:
    if (answer_id := _reported_id(ls, params)) is not None and not ls.acceptance.shown(answer_id):
        log.debug("shown: unknown suggestion %r ignored", answer_id)


def on_did_accept_completion(ls: FimServer, params: Any) -> None:
    answer_id = _reported_id(ls, params)
    if answer_id is not None and not ls.acceptance.accepted(answer_id):
        log.debug("accepted: unknown suggestion %r ignored", answer_id)


def on_did_partially_accept_completion(ls: FimServer, params: Any) -> None:
    answer_id = _reported_id(ls, params)
    length = getattr(params, "acceptedLength", None)
    if answer_id is None or isinstance(length, bool) or not isinstance(length, int):
        return
    if not ls.acceptance.partially_accepted(answer_id, length):
        log.debug("partly accepted: unknown suggestion %r ignored", answer_id)


def on_shutdown(ls: FimServer, params: Any) -> None:
    ls.acceptance.flush()


def on_document_text(ls: FimServer, params: Any) -> dict[str, Any]:
    """``lspFim/documentText`` ``{"uri": ...}``: the server's copy of an open document, so a
    client (and the reliability suite) can check that incremental edits left it equal to its
    own. Only what that client sent is returned; ``text`` is null for a document not open,
    and for one that may hold secrets (its text would be in a ``-v`` log)."""
    uri = getattr(params, "uri", None)
    document = ls.open_document(uri) if isinstance(uri, str) else None
    if document is None or is_denied(document.path, ls.settings.exclude):
        return {"text": None, "version": None}
    return {"text": document.source, "version": document.version}


def register(server: FimServer) -> None:
    server.feature(types.INITIALIZE)(on_initialize)
    server.feature(types.INITIALIZED)(on_initialized)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(on_did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(on_did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(on_did_close)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(on_did_change_configuration)
    server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(
        on_inline_completion
    )
    server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[]))(
        on_completion
    )
    server.feature(STATS_REQUEST)(on_stats)
    server.feature(DOCUMENT_TEXT_REQUEST)(on_document_text)
    server.feature(DID_SHOW_COMPLETION)(on_did_show_completion)
    server.feature(DID_ACCEPT_COMPLETION)(on_did_accept_completion)
    server.feature(DID_PARTIALLY_ACCEPT_COMPLETION)(on_did_partially_accept_completion)
    server.feature(types.SHUTDOWN)(on_shutdown)


def create_server(settings: Settings | None = None) -> FimServer:
    """The server with every handler registered. ``settings``: the command line's, which an
    editor's settings override and ``null`` puts back."""
    server = FimServer(settings or Settings())
    register(server)
    return server
