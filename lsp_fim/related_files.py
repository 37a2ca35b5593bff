"""Other files the user works in, as context for the one being completed.

The code a suggestion needs (the function it calls, the class it fills in, the test it must
pass) is often in another file the user has open and has just worked in. Each such file
offers the lines around the place the user last worked at there, newest file first
(llama.vim keeps a ring of such chunks for the same reason).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

RECENT_DOCUMENTS = 8


@dataclass(frozen=True)
class RelatedDocument:
    """Another open file: ``name`` is shown to the model, ``offset`` is where the user last
    worked in ``text``."""

    name: str
    text: str
    offset: int


class RecentDocuments:
    """Open documents by last use, with the line last worked at in each."""

    def __init__(self, limit: int = RECENT_DOCUMENTS) -> None:
        self._limit = limit
        self._lines: OrderedDict[str, int] = OrderedDict()

    def touch(self, uri: str, line: int) -> None:
        self._lines[uri] = line
        self._lines.move_to_end(uri, last=False)
        while len(self._lines) > self._limit:
            self._lines.popitem()

    def forget(self, uri: str) -> None:
        self._lines.pop(uri, None)

    def others(self, uri: str) -> list[tuple[str, int]]:
        """The other documents, newest first, each with its line."""
        return [(other, line) for other, line in self._lines.items() if other != uri]
