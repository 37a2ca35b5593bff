"""The server over stdio, driven as Neovim would drive it, on the real model."""

from __future__ import annotations

import ast
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from bench.lsp_client import server_env

pytestmark = pytest.mark.model

LOG_FILE = Path(os.environ.get("LSP_FIM_E2E_LOG", "/tmp/lsp-fim-e2e.log"))
NORM = "import math\n\n\ndef norm(x: float, y: float) -> float:\n    r = \n    return r\n"
NORM_CURSOR = types.Position(line=4, character=8)
URI = "file:///tmp/lsp_fim_e2e/norm.py"
READY_TIMEOUT_S = 600
# Answers must not depend on how busy the machine is: no generation time limit.
NO_CLOCK = {"maxTokens": 64, "maxGenerateMs": 0}


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "lsp_fim", "--log-file", str(LOG_FILE), "serve"],
        server_env=server_env(),
    )
)
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    capabilities = client_capabilities("neovim")
    assert capabilities.text_document is not None
    capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    lsp_client.initialize_result = await lsp_client.initialize_session(  # type: ignore[attr-defined]
        types.InitializeParams(
            capabilities=capabilities,
            initialization_options={"lspFim": NO_CLOCK},
            # Other files are context only inside the workspace (README: What leaves your
            # machine).
            root_uri="file:///tmp/lsp_fim_e2e",
        )
    )
    await wait_until_ready(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def wait_until_ready(client: LanguageClient) -> None:
    async def model_loaded() -> None:
        while not any(
            isinstance(report, types.WorkDoneProgressEnd)
            for reports in client.progress_reports.values()
            for report in reports
        ):
            await asyncio.sleep(0.1)

    await asyncio.wait_for(model_loaded(), READY_TIMEOUT_S)
    ends = [
        report
        for reports in client.progress_reports.values()
        for report in reports
        if isinstance(report, types.WorkDoneProgressEnd)
    ]
    assert ends[-1].message and ends[-1].message.startswith("ready"), ends[-1].message


def open_document(client: LanguageClient, text: str, uri: str = URI) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


def inline_params(
    position: types.Position, trigger: types.InlineCompletionTriggerKind
) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        position=position,
        context=types.InlineCompletionContext(trigger_kind=trigger),
    )


def apply_edit(text: str, start: types.Position, end: types.Position, new_text: str) -> str:
    lines = text.split("\n")

    def offset(position: types.Position) -> int:
        return sum(len(line) + 1 for line in lines[: position.line]) + position.character

    return text[: offset(start)] + new_text + text[offset(end) :]


async def test_initialize_advertises_both_completion_kinds(client: LanguageClient) -> None:
    server_capabilities = client.initialize_result.capabilities  # type: ignore[attr-defined]
    assert server_capabilities.inline_completion_provider is not None
    assert server_capabilities.completion_provider is not None
    assert server_capabilities.position_encoding == types.PositionEncodingKind.Utf8
    sync = server_capabilities.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental


async def test_the_embedded_backend_lays_qwen_out_suffix_first(client: LanguageClient) -> None:
    """It heals the token cut at the cursor, which that layout needs (README: Prompt layout)."""
    ends = [
        report.message
        for reports in client.progress_reports.values()
        for report in reports
        if isinstance(report, types.WorkDoneProgressEnd)
    ]
    assert ends == ["ready (qwen2.5-coder-suffix-first)"]


async def test_inline_completion_fills_the_norm_body(client: LanguageClient) -> None:
    open_document(client, NORM)
    result = await client.text_document_inline_completion_async(
        inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Automatic)
    )
    assert isinstance(result, types.InlineCompletionList)
    assert len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.insert_text, str) and item.insert_text.strip()
    assert item.range == types.Range(start=NORM_CURSOR, end=NORM_CURSOR)
    completed = apply_edit(NORM, item.range.start, item.range.end, item.insert_text)
    ast.parse(completed)


async def test_completion_item_edits_the_norm_body(client: LanguageClient) -> None:
    open_document(client, NORM)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=URI), position=NORM_CURSOR
        )
    )
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.new_text.strip()
    assert item.label == item.text_edit.new_text.split("\n", 1)[0].strip()
    completed = apply_edit(
        NORM, item.text_edit.range.start, item.text_edit.range.end, item.text_edit.new_text
    )
    ast.parse(completed)


async def test_word_being_typed_is_part_of_the_completion_edit(
    client: LanguageClient,
) -> None:
    text = NORM.replace("    r = \n", "    r = ma\n")
    open_document(client, text)
    cursor = types.Position(line=4, character=10)
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=URI), position=cursor)
    )
    assert isinstance(result, types.CompletionList) and result.items
    edit = result.items[0].text_edit
    assert isinstance(edit, types.TextEdit)
    assert edit.range.start == types.Position(line=4, character=8)
    assert edit.new_text.startswith("ma")
    assert result.items[0].filter_text is not None
    assert result.items[0].filter_text.startswith("ma")


async def test_cancelled_request_stops_generation_and_server_keeps_serving(
    client: LanguageClient,
) -> None:
    open_document(client, NORM)
    params = inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Invoked)
    cancelled = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="to-cancel"
        )
    )
    await asyncio.sleep(0.3)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="to-cancel"))
    with pytest.raises(Exception, match="cancel"):
        await cancelled
    follow_up = await client.text_document_inline_completion_async(params)
    assert isinstance(follow_up, types.InlineCompletionList) and follow_up.items
    log = LOG_FILE.read_text(encoding="utf-8")
    assert "cancelled path=" in log


async def test_bad_position_gets_an_empty_answer(client: LanguageClient) -> None:
    open_document(client, NORM)
    result = await client.text_document_inline_completion_async(
        inline_params(
            types.Position(line=99, character=0), types.InlineCompletionTriggerKind.Invoked
        )
    )
    assert result is None


async def test_invalid_setting_falls_back_and_the_user_is_told(client: LanguageClient) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"lspFim": {"maxTokens": -1}})
    )
    await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    assert any("maxTokens" in message.message for message in client.messages)
    open_document(client, NORM)
    result = await client.text_document_inline_completion_async(
        inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Invoked)
    )
    assert isinstance(result, types.InlineCompletionList) and result.items


async def test_newer_request_for_the_document_supersedes_the_running_one(
    client: LanguageClient,
) -> None:
    open_document(client, NORM)
    params = inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Automatic)
    older = asyncio.ensure_future(client.text_document_inline_completion_async(params))
    await asyncio.sleep(0.05)
    newer = await client.text_document_inline_completion_async(params)
    assert await older is None
    assert isinstance(newer, types.InlineCompletionList) and newer.items


async def test_a_request_in_another_document_supersedes_the_running_one(
    client: LanguageClient,
) -> None:
    other = "file:///tmp/lsp_fim_e2e/other.py"
    open_document(client, NORM, other)
    open_document(client, NORM)
    older = asyncio.ensure_future(
        client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=other),
                position=NORM_CURSOR,
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
        )
    )
    await asyncio.sleep(0.05)
    params = inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Automatic)
    newer = await client.text_document_inline_completion_async(params)
    assert await older is None
    assert isinstance(newer, types.InlineCompletionList) and newer.items


async def test_stats_count_model_runs_and_cache_answers(client: LanguageClient) -> None:
    open_document(client, NORM)
    params = inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Automatic)
    first = await client.text_document_inline_completion_async(params)
    again = await client.text_document_inline_completion_async(params)
    assert isinstance(first, types.InlineCompletionList) and first.items
    assert isinstance(again, types.InlineCompletionList)
    assert again.items[0].insert_text == first.items[0].insert_text
    stats = await client.protocol.send_request_async("lspFim/stats", None)
    assert stats.requests == 2
    assert stats.fromCache == 1
    assert stats.modelRuns == 1
    assert stats.generatedTokens > 0
    assert 0 < stats.promptTokensEvaluated <= stats.promptTokens


LONG_SUFFIX = "".join(
    f"\n\ndef scaled_{n}(x: float, y: float) -> float:\n    return norm(x * {n}, y * {n})\n"
    for n in range(2, 8)
)


async def stats_of(client: LanguageClient) -> object:
    return await client.protocol.send_request_async("lspFim/stats", None)


def type_text(client: LanguageClient, at: types.Position, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text=text
                )
            ],
        )
    )


async def test_a_keystroke_evaluates_few_prompt_tokens(client: LanguageClient) -> None:
    """The suffix after the cursor stays in the model's cache across keystrokes."""
    open_document(client, NORM + LONG_SUFFIX)
    await client.text_document_inline_completion_async(
        inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Invoked)
    )
    before = await stats_of(client)
    type_text(client, NORM_CURSOR, "z", version=2)
    typed = types.Position(line=NORM_CURSOR.line, character=NORM_CURSOR.character + 1)
    await client.text_document_inline_completion_async(
        inline_params(typed, types.InlineCompletionTriggerKind.Automatic)
    )
    after = await stats_of(client)
    assert after.modelRuns == before.modelRuns + 1  # type: ignore[attr-defined]
    prompt = after.promptTokens - before.promptTokens  # type: ignore[attr-defined]
    evaluated = after.promptTokensEvaluated - before.promptTokensEvaluated  # type: ignore[attr-defined]
    assert prompt > 150
    assert 0 < evaluated <= 48


async def test_the_suggestion_after_accepting_is_computed_ahead(client: LanguageClient) -> None:
    open_document(client, NORM)
    result = await client.text_document_inline_completion_async(
        inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Invoked)
    )
    assert isinstance(result, types.InlineCompletionList) and result.items
    suggestion = result.items[0].insert_text
    assert isinstance(suggestion, str)
    for _ in range(300):  # the work ahead starts after a quiet moment
        if (await stats_of(client)).backgroundRuns >= 1:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.1)
    type_text(client, NORM_CURSOR, suggestion, version=2)
    accepted = apply_edit(NORM, NORM_CURSOR, NORM_CURSOR, suggestion)
    lines = accepted[: accepted.index(suggestion) + len(suggestion)].split("\n")
    cursor = types.Position(line=len(lines) - 1, character=len(lines[-1]))
    runs_before = (await stats_of(client)).modelRuns  # type: ignore[attr-defined]
    await client.text_document_inline_completion_async(
        inline_params(cursor, types.InlineCompletionTriggerKind.Automatic)
    )
    stats = await stats_of(client)
    assert stats.backgroundRuns >= 1  # type: ignore[attr-defined]
    assert stats.modelRuns == runs_before  # type: ignore[attr-defined]
    assert stats.requests == 2  # type: ignore[attr-defined]


HELPERS = '''"""Inventory helpers."""


def count_blue_widgets(widgets):
    """How many of ``widgets`` are blue."""
    return sum(1 for w in widgets if w.colour == "blue")
'''
REPORT = "import helpers\n\n\ndef report(widgets):\n    blue = helpers.\n"
REPORT_URI = "file:///tmp/lsp_fim_e2e/report.py"


async def test_another_open_file_gives_the_name_to_call(client: LanguageClient) -> None:
    """Without helpers.py the model cannot know the function's name (it writes
    ``helpers.blue``); with it open beside, it calls the function defined there."""
    open_document(client, HELPERS, "file:///tmp/lsp_fim_e2e/helpers.py")
    open_document(client, REPORT, REPORT_URI)
    cursor = types.Position(line=4, character=len("    blue = helpers."))
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=REPORT_URI),
            position=cursor,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    assert isinstance(result, types.InlineCompletionList) and result.items
    insert_text = result.items[0].insert_text
    assert isinstance(insert_text, str) and insert_text.startswith("count_blue_widgets(")


# Bad input: each gets an empty answer or a clear message and a log line, and the server goes
# on answering the next good request.


async def inline_at(
    client: LanguageClient, uri: str, position: types.Position
) -> types.InlineCompletionList | None:
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )


async def still_serving(client: LanguageClient) -> None:
    open_document(client, NORM)
    result = await client.text_document_inline_completion_async(
        inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Invoked)
    )
    assert isinstance(result, types.InlineCompletionList) and result.items


def log_text() -> str:
    return LOG_FILE.read_text(encoding="utf-8")


async def test_a_document_never_opened_gets_an_empty_answer(client: LanguageClient) -> None:
    uri = "file:///tmp/lsp_fim_bad_input/never-opened-and-absent.py"
    assert await inline_at(client, uri, types.Position(line=0, character=0)) is None
    assert "never-opened-and-absent.py" in log_text()
    await still_serving(client)


@pytest.mark.parametrize(
    "text", ["x = 1\n" * 400_000, "data = b'\x00\x01\x02'\n"], ids=["huge", "binary"]
)
async def test_huge_and_binary_documents_get_an_empty_answer(
    client: LanguageClient, text: str
) -> None:
    uri = "file:///tmp/lsp_fim_bad_input/odd.py"
    open_document(client, text, uri)
    assert await inline_at(client, uri, types.Position(line=1, character=0)) is None
    assert "too large or binary" in log_text()
    close_document(client, uri)
    await still_serving(client)


async def test_a_minified_line_is_completed_within_the_context(client: LanguageClient) -> None:
    """A 300,000-character line of dense code is cut to its token budget around the cursor:
    cut by characters alone it made a prompt larger than the context, and no suggestion."""
    line = ";".join(f"function f{n}(a,b){{return a*{n}+b}}" for n in range(10_000))
    line = line.replace("return a*5000+b}", "return ")
    cursor = line.index("function f5000(a,b){return ") + len("function f5000(a,b){return ")
    uri = "file:///tmp/lsp_fim_bad_input/bundle.min.js"
    logged_before = len(log_text())
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="javascript", version=1, text=line + "\n"
            )
        )
    )
    result = await inline_at(client, uri, types.Position(line=0, character=cursor))
    close_document(client, uri)
    assert "leaves no room" not in log_text()[logged_before:]
    assert isinstance(result, types.InlineCompletionList) and result.items
    assert str(result.items[0].insert_text).strip()


async def test_an_unknown_language_is_completed_without_a_grammar(
    client: LanguageClient,
) -> None:
    uri = "file:///tmp/lsp_fim_bad_input/program.unknownlang"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="no-such-language", version=1, text=NORM
            )
        )
    )
    result = await inline_at(client, uri, NORM_CURSOR)
    assert result is None or isinstance(result, types.InlineCompletionList)
    close_document(client, uri)
    await still_serving(client)


def close_document(client: LanguageClient, uri: str) -> None:
    """Open documents are context for the others: each test closes what it opened."""
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


async def test_budgets_beyond_the_model_context_are_said_once_to_the_user(
    client: LanguageClient,
) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"lspFim": {"prefixTokens": 100_000, "suffixTokens": 100_000}}
        )
    )
    long_file = "".join(f"value_{n} = {n} * 2  # a line of filler\n" for n in range(3000))
    uri = "file:///tmp/lsp_fim_bad_input/long.py"
    open_document(client, long_file + NORM, uri)
    cursor = types.Position(line=3000 + NORM_CURSOR.line, character=NORM_CURSOR.character)
    for _ in range(3):
        assert await asyncio.wait_for(inline_at(client, uri, cursor), 120) is None
    told = [m.message for m in client.messages if "leaves no room" in m.message]
    assert len(told) == 1 and "prefixTokens" in told[0]
    assert log_text().count("leaves no room") >= 3
    close_document(client, uri)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"lspFim": {"prefixTokens": 1024}})
    )
    await still_serving(client)


async def test_an_explicit_request_gets_up_to_three_distinct_suggestions(
    client: LanguageClient,
) -> None:
    open_document(client, NORM)
    typing = inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Automatic)
    explicit = inline_params(NORM_CURSOR, types.InlineCompletionTriggerKind.Invoked)
    one = await client.text_document_inline_completion_async(typing)
    before = await stats_of(client)
    several = await client.text_document_inline_completion_async(explicit)
    after = await stats_of(client)
    # The greedy suggestion is the automatic answer, remembered: only the others run the model.
    assert after.fromCache == before.fromCache + 1  # type: ignore[attr-defined]
    assert isinstance(one, types.InlineCompletionList) and len(one.items) == 1
    assert isinstance(several, types.InlineCompletionList) and 2 <= len(several.items) <= 3
    texts = [str(item.insert_text) for item in several.items]
    assert texts[0] == one.items[0].insert_text, "the greedy suggestion comes first"
    assert len({" ".join(text.split()) for text in texts}) == len(texts), texts
    assert all(item.range == one.items[0].range for item in several.items)
