"""Acceptance statistics over stdio: a suggestion answered, the editor's reports of it shown and
accepted, and ``lspFim/stats`` (and the file, after shutdown) counting them. The engine is a
scripted llama-server, so no model is loaded."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_lsp
import test_http_e2e
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scripted_http import ScriptedEngine
from test_http_e2e import NORM_CURSOR, URI, inline_params, open_norm, start

from lsp_fim.acceptance import ACCEPT_COMMAND, ANSWER_ID_FIELD, STATS_FILE_NAME
from lsp_fim.models.store import cache_dir

CACHE_HOME = Path("/tmp/lsp-fim-acceptance-e2e")
STATS_FILE = CACHE_HOME / "lsp-fim" / STATS_FILE_NAME
LOG_FILE = Path("/tmp/lsp-fim-acceptance-e2e.log")
engine = test_http_e2e.engine  # the scripted llama-server, a fixture
SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "lsp_fim", "--log-file", str(LOG_FILE), "serve"],
    # The stats file in a cache of its own; models (none loaded here) where they are.
    server_env={
        **os.environ,
        "XDG_CACHE_HOME": str(CACHE_HOME),
        "LSP_FIM_CACHE_DIR": str(cache_dir()),
    },
)


def fresh_cache() -> None:
    shutil.rmtree(CACHE_HOME, ignore_errors=True)
    CACHE_HOME.mkdir(parents=True)


def options(engine: ScriptedEngine, **more: Any) -> dict[str, Any]:
    return {"lspFim": {"backend": "llama-server", "backendUrl": engine.url, **more}}


# Each test ends the session itself (the counts are written at shutdown), even when it fails
# before: a server never told to exit would keep the fixture waiting.


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, engine: ScriptedEngine) -> AsyncIterator[None]:
    fresh_cache()
    await start(lsp_client, options(engine, maxGenerateMs=0))
    yield


@pytest_lsp.fixture(config=SERVER)
async def client_not_counting(
    lsp_client: LanguageClient, engine: ScriptedEngine
) -> AsyncIterator[None]:
    fresh_cache()
    await start(lsp_client, options(engine, maxGenerateMs=0, acceptanceStats=False))
    yield


async def suggestion(client: LanguageClient) -> types.InlineCompletionItem:
    result = await client.text_document_inline_completion_async(inline_params())
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 1
    return result.items[0]


def answer_id(item: types.InlineCompletionItem) -> str:
    assert item.command is not None and item.command.command == ACCEPT_COMMAND
    assert item.command.arguments and isinstance(item.command.arguments[0], str)
    return item.command.arguments[0]


async def suggest_and_report(client: LanguageClient) -> tuple[types.InlineCompletionItem, Any]:
    """Two suggestions; the first shown, a word of it taken, then all of it; the second shown;
    and reports the server must ignore. Returns the first and ``lspFim/stats`` after."""
    open_norm(client)
    first = await suggestion(client)
    second = await suggestion(client)  # the same text (from the cache): a new suggestion
    first_id, second_id = answer_id(first), answer_id(second)
    assert first_id != second_id
    client.protocol.notify("lspFim/didShowCompletion", {"id": first_id})
    client.protocol.notify(
        "lspFim/didPartiallyAcceptCompletion", {"id": first_id, "acceptedLength": 2}
    )
    client.protocol.notify("lspFim/didAcceptCompletion", {"id": first_id})
    client.protocol.notify("lspFim/didShowCompletion", {"id": second_id})
    client.protocol.notify("lspFim/didAcceptCompletion", {"id": "not-one-of-ours"})
    client.protocol.notify("lspFim/didPartiallyAcceptCompletion", {"id": second_id})  # no length
    return first, await client.protocol.send_request_async("lspFim/stats", None)


async def test_reports_from_the_editor_are_counted_in_stats_and_kept_in_the_file(
    client: LanguageClient,
) -> None:
    try:
        first, stats = await suggest_and_report(client)
    finally:
        await client.shutdown_session()
    assert isinstance(first.insert_text, str)
    length = len(first.insert_text)
    python = stats.acceptance.byLanguage.python
    assert (python.shown, python.accepted, python.partiallyAccepted) == (2, 1, 1)
    assert python.acceptRate == 0.5
    assert python.acceptedChars == length and python.shownChars == 2 * length
    (by_model,) = stats.acceptance.byModel  # "llama-server" (not a name: no attribute here)
    assert by_model.accepted == 1
    assert stats.requests == 2  # the engine's counters are still there

    saved = STATS_FILE.read_text(encoding="utf-8")
    rows = json.loads(saved)["tallies"]
    assert [(row["language"], row["model"], row["accepted"]) for row in rows] == [
        ("python", "llama-server", 1)
    ]
    assert first.insert_text.strip() not in saved  # counts only, never code


async def test_a_menu_item_carries_its_id_in_data_and_its_accept_is_counted(
    client: LanguageClient,
) -> None:
    """Neovim 0.11 and Helix show the suggestion as a completion-menu item. Its id is in
    ``data``, not in a command: Helix would run a command it does not know on accept."""
    try:
        open_norm(client)
        menu = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=URI), position=NORM_CURSOR
            )
        )
        assert isinstance(menu, types.CompletionList) and len(menu.items) == 1
        item = menu.items[0]
        assert item.command is None
        assert isinstance(item.data, dict) and isinstance(item.data[ANSWER_ID_FIELD], str)
        client.protocol.notify("lspFim/didShowCompletion", {"id": item.data[ANSWER_ID_FIELD]})
        client.protocol.notify("lspFim/didAcceptCompletion", {"id": item.data[ANSWER_ID_FIELD]})
        stats = await client.protocol.send_request_async("lspFim/stats", None)
    finally:
        await client.shutdown_session()
    python = stats.acceptance.byLanguage.python
    assert (python.shown, python.accepted) == (1, 1)


async def test_with_acceptance_stats_off_nothing_is_counted_or_written(
    client_not_counting: LanguageClient,
) -> None:
    client = client_not_counting
    try:
        open_norm(client)
        item = await suggestion(client)
        client.protocol.notify("lspFim/didAcceptCompletion", {"id": "anything"})
        stats = await client.protocol.send_request_async("lspFim/stats", None)
    finally:
        await client.shutdown_session()
    assert item.command is None  # no id: an editor has nothing to report
    assert not hasattr(stats, "acceptance") and stats.requests == 1
    assert not STATS_FILE.exists()
