"""The one place where LSP positions meet string offsets.

LSP counts ``character`` in UTF-16 code units unless the client negotiated UTF-8 or UTF-32;
Python strings index code points. Everything else in lsp-fim works on code-point offsets into
the document text: LSP positions are converted here and only here. (tree-sitter's UTF-8 byte
offsets never leave the scope stop's parser, :mod:`lsp_fim.scope.syntax`.)

Lines end where LSP says they do: at ``\n``, ``\r\n`` or a lone ``\r`` (``\f``, ``\v`` and
``\u2028`` are text). Conversions cost C-speed passes over one line, not a Python loop over its
characters: a 2-million-character line is converted in milliseconds.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["utf-8", "utf-16", "utf-32"]
LINE_BREAK = re.compile(r"\r\n|\r|\n")
ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class PositionError(ValueError):
    """A position that is not inside the document (the editor and server disagree on its text)."""


@dataclass(frozen=True)
class Position:
    line: int
    character: int


def _units(text: str, encoding: Encoding) -> int:
    """Code units of ``text`` in ``encoding``."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-16":
        return len(text) + len(ASTRAL.findall(text))
    return len(text.encode("utf-8", "surrogatepass"))


def _code_points(line: str, units: int, encoding: Encoding) -> int:
    """How many of ``line``'s code points make its first ``units`` code units."""
    if encoding == "utf-32":
        return units
    if encoding == "utf-8":
        head = line.encode("utf-8", "surrogatepass")[:units]
        try:
            return len(head.decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError:
            raise PositionError(f"character {units} splits a character (utf-8)") from None
    count = units
    for before, astral in enumerate(ASTRAL.finditer(line, 0, units)):
        start = astral.start() + before  # in UTF-16 units
        if start >= units:
            break
        if start + 1 == units:
            raise PositionError(f"character {units} splits a character (utf-16)")
        count -= 1
    return count


def _line_span(text: str, line: int) -> tuple[int, int]:
    """Start and end (before its line break) of line ``line``, found by one regex match."""
    start = 0
    if line:
        lines_before = re.compile(rf"(?:[^\r\n]*(?:\r\n?|\n)){{{line}}}").match(text)
        if lines_before is None:
            lines = len(LINE_BREAK.findall(text)) + 1
            raise PositionError(f"line {line} is outside the document ({lines} lines)")
        start = lines_before.end()
    line_break = LINE_BREAK.search(text, start)
    return start, line_break.start() if line_break else len(text)


def offset_of(text: str, position: Position, encoding: Encoding = "utf-16") -> int:
    """Code-point offset of ``position``; a character past the line's end is an error."""
    if position.line < 0 or position.character < 0:
        raise PositionError(f"line {position.line} is outside the document")
    start, end = _line_span(text, position.line)
    line = text[start:end]
    if position.character > _units(line, encoding):
        raise PositionError(
            f"character {position.character} is past the end of line {position.line}"
        )
    return start + _code_points(line, position.character, encoding)


def clamped_offset(text: str, position: Position, encoding: Encoding = "utf-16") -> int:
    """Offset of ``position`` read as LSP reads an edit's range: a line past the end is the
    document's end, a character past its line's end is that end, one inside a character
    is that character's start."""
    try:
        start, end = _line_span(text, max(position.line, 0))
    except PositionError:
        return len(text)
    line = text[start:end]
    units = min(max(position.character, 0), _units(line, encoding))
    for inside in range(4):  # a UTF-8 character is at most 4 units
        with contextlib.suppress(PositionError):
            return start + _code_points(line, units - inside, encoding)
    raise AssertionError("no character is longer than 4 units")


def position_of(text: str, offset: int, encoding: Encoding = "utf-16") -> Position:
    """LSP position of a code-point offset (the inverse of :func:`offset_of`)."""
    if not 0 <= offset <= len(text):
        raise PositionError(f"offset {offset} is outside the document")
    if 0 < offset < len(text) and text[offset - 1 : offset + 1] == "\r\n":
        offset -= 1  # inside a line break: the end of its line
    line = len(LINE_BREAK.findall(text, 0, offset))
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    return Position(line, _units(text[start:offset], encoding))

