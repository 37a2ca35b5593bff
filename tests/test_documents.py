"""Open documents keep the editor's text through incremental edits, whatever characters it
holds: lines end at LSP's three line breaks only."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.workspace import Workspace

from lsp_fim.documents import LspTextDocument, use_lsp_lines


def edit(text: str, start: tuple[int, int], end: tuple[int, int], new: str) -> str:
    document = LspTextDocument("file:///tmp/a.py", text)
    change = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(*start), types.Position(*end)), text=new
    )
    document.apply_change(change)
    return document.source


@pytest.mark.parametrize("separator", ["\f", "\v", "\x1c", "\x85", "\u2028", "\u2029"])
def test_an_edit_below_a_character_that_is_not_a_line_break(separator: str) -> None:
    assert edit(f"a{separator}b\nc\n", (1, 0), (1, 1), "X") == f"a{separator}b\nX\n"


def test_lone_cr_and_crlf_end_lines() -> None:
    assert edit("a\rb\r\nc", (2, 0), (2, 1), "X") == "a\rb\r\nX"
    assert edit("a\rb\r\nc", (0, 1), (1, 0), "") == "ab\r\nc"


def test_utf16_units_and_positions_past_the_end() -> None:
    assert edit("😀x\n", (0, 2), (0, 3), "y") == "😀y\n"
    assert edit("ab\ncd", (0, 9), (0, 9), "!") == "ab!\ncd"
    assert edit("ab\ncd", (7, 0), (7, 0), "!") == "ab\ncd!"


def test_the_workspace_makes_such_documents() -> None:
    workspace = Workspace(None)
    use_lsp_lines(workspace)
    item = types.TextDocumentItem(uri="file:///tmp/b.py", language_id="python", version=0, text="")
    workspace.put_text_document(item)
    assert isinstance(workspace.get_text_document("file:///tmp/b.py"), LspTextDocument)
