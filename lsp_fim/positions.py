"""The one place where LSP positions meet string offsets.

LSP counts ``character`` in UTF-16 code units unless the client negotiated UTF-8 or UTF-32;
Python strings index code points; tree-sitter wants UTF-8 bytes. Everything else in lsp-fim
works on code-point offsets into the document text, converted here and only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["utf-8", "utf-16", "utf-32"]


class PositionError(ValueError):
    """A position that is not inside the document (the editor and server disagree on its text)."""


@dataclass(frozen=True)
class Position:
    line: int
    character: int


def _units(char: str, encoding: Encoding) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-16":
        return 2 if ord(char) > 0xFFFF else 1
    return len(char.encode("utf-8"))


def _line_starts(text: str) -> list[int]:
    starts = [0]
    index = text.find("\n")
    while index != -1:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def _line_end(text: str, start: int) -> int:
    """End of the line's content, before its ``\\n`` or ``\\r\\n``."""
    end = text.find("\n", start)
    if end == -1:
        return len(text)
    return end - 1 if end > start and text[end - 1] == "\r" else end


def offset_of(text: str, position: Position, encoding: Encoding = "utf-16") -> int:
    """Code-point offset of ``position``; a character past the line's end is an error."""
    starts = _line_starts(text)
    if position.line < 0 or position.character < 0 or position.line >= len(starts):
        raise PositionError(f"line {position.line} is outside the document ({len(starts)} lines)")
    start = starts[position.line]
    end = _line_end(text, start)
    units = 0
    offset = start
    while units < position.character:
        if offset >= end:
            raise PositionError(
                f"character {position.character} is past the end of line {position.line}"
            )
        units += _units(text[offset], encoding)
        offset += 1
    if units != position.character:
        raise PositionError(f"character {position.character} splits a character ({encoding})")
    return offset


def position_of(text: str, offset: int, encoding: Encoding = "utf-16") -> Position:
    """LSP position of a code-point offset (the inverse of :func:`offset_of`)."""
    if not 0 <= offset <= len(text):
        raise PositionError(f"offset {offset} is outside the document")
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    character = sum(_units(char, encoding) for char in text[start:offset])
    return Position(line, character)


def utf8_offset(text: str, offset: int) -> int:
    """Byte offset for tree-sitter."""
    return len(text[:offset].encode("utf-8"))
