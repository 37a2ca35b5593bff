"""Turns an engine :class:`Completion` into the LSP result types, with exact ranges."""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from lsp_fim.engine import Completion
from lsp_fim.positions import Encoding, position_of


def _range(text: str, start: int, end: int, encoding: Encoding) -> types.Range:
    first, last = position_of(text, start, encoding), position_of(text, end, encoding)
    return types.Range(
        start=types.Position(first.line, first.character),
        end=types.Position(last.line, last.character),
    )


def inline_completion_list(
    text: str, completions: Sequence[Completion], encoding: Encoding
) -> types.InlineCompletionList:
    """One item per suggestion, the likeliest first (VS Code cycles through them)."""
    items = [
        types.InlineCompletionItem(
            insert_text=completion.text,
            range=_range(text, completion.start, completion.end, encoding),
        )
        for completion in completions
    ]
    return types.InlineCompletionList(items=items)


def _word_start(text: str, offset: int) -> int:
    """Start of the identifier being typed, so menu filtering keeps the item visible."""
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return start


def completion_list(text: str, completion: Completion, encoding: Encoding) -> types.CompletionList:
    word_start = _word_start(text, completion.start)
    typed = text[word_start : completion.start]
    new_text = typed + completion.text
    first_line = completion.text.split("\n", 1)[0].rstrip("\r")
    item = types.CompletionItem(
        label=(first_line.strip() or completion.text.strip().split("\n", 1)[0]),
        kind=types.CompletionItemKind.Text,
        detail="lsp-fim",
        documentation=types.MarkupContent(kind=types.MarkupKind.PlainText, value=completion.text),
        filter_text=typed + first_line,
        sort_text="0",
        preselect=True,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(
            range=_range(text, word_start, completion.end, encoding), new_text=new_text
        ),
    )
    return types.CompletionList(is_incomplete=True, items=[item])
