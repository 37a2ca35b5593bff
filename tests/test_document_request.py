"""From a document snapshot to the engine's request (the part that runs off the event loop)."""

from __future__ import annotations

from lsp_fim.document_request import DocumentSnapshot, OtherDocument, request_from
from lsp_fim.positions import Position


def snapshot(
    text: str, position: Position, others: tuple[OtherDocument, ...] = ()
) -> DocumentSnapshot:
    return DocumentSnapshot(
        "file:///w/a.py", text, position, "utf-16", "python", "/w/a.py", "a.py", "w", others
    )


def test_lone_surrogates_become_replacement_characters_at_the_same_offsets() -> None:
    """JSON carries lone surrogates (``"\\ud800"``); UTF-8, and so the tokenizer, cannot: a
    request in such a document failed with an internal error."""
    text = "x = '\ud800'\ny = \n"
    request = request_from(snapshot(text, Position(1, 4)))
    assert request is not None
    assert request.text == "x = '\ufffd'\ny = \n"
    assert request.offset == text.index("y = ") + 4
    request.text.encode("utf-8")
    other = OtherDocument("helpers.py", "/w/helpers.py", "def f():\n    '\udfff'\n", 0)
    named = request_from(snapshot("import helpers\n" + text, Position(2, 4), (other,)))
    assert named is not None and named.related[0].text == "def f():\n    '\ufffd'\n"
