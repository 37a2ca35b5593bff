"""Line-level helpers shared by the scope rules: line endings, indentation, windows.

The rules read text with ``\\n`` line ends only; documents (and the suggestions a model
writes for them) may use ``\\r\\n``. Offsets found in the plain text are mapped back before
they leave the guard, so a cut never splits a ``\\r\\n``.
"""

from __future__ import annotations

TAB_WIDTH = 4


def plain_newlines(text: str) -> str:
    return text.replace("\r\n", "\n")


def original_offset(original: str, plain_offset: int) -> int:
    """The offset in ``original`` of the character at ``plain_offset`` in its plain form."""
    if "\r\n" not in original:
        return plain_offset
    plain_seen = 0
    index = 0
    while plain_seen < plain_offset and index < len(original):
        index += 2 if original.startswith("\r\n", index) else 1
        plain_seen += 1
    return index


def indent_width(line: str) -> int:
    expanded = line.expandtabs(TAB_WIDTH)
    return len(expanded) - len(expanded.lstrip(" "))


def is_blank(line: str) -> bool:
    return not line.strip()


def last_lines(text: str, count: int) -> str:
    """The end of ``text`` from the start of its ``count``-th last line, started at a line of
    no indentation where one is near, so that the window opens between top-level items."""
    starts = _line_starts_before(text, count)
    top_level = [s for s in starts if s < len(text) and text[s] not in " \t\r\n)]}"]
    return text[(top_level or starts)[0] :]


def first_lines(text: str, count: int) -> str:
    """The start of ``text`` up to the end of its ``count``-th line."""
    end = -1
    for _ in range(count):
        end = text.find("\n", end + 1)
        if end == -1:
            return text
    return text[: end + 1]


def _line_starts_before(text: str, count: int) -> list[int]:
    """Starts of the last ``count`` lines of ``text``, first line first."""
    starts: list[int] = []
    end = len(text)
    while len(starts) < count:
        start = text.rfind("\n", 0, end) + 1
        starts.append(start)
        if start == 0:
            break
        end = start - 1
    starts.reverse()
    return starts
