"""Other files the user works in, as context for the one being completed.

The code a suggestion needs (the function it calls, the class it fills in) is often in
another file the user has open: one that the file at the cursor names, by an import, an
include or a class name. Such a file offers the lines around the place the user last worked
at there, newest file first (llama.vim keeps a ring of such chunks for the same reason).

Open files that the document does not name are left out. Measured on Qwen2.5-Coder-0.5B,
unrelated code before the file costs quality: the quality harness's single-line set fell
from 21 to 17 of 40 right with two unrelated files given as context (README).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePath

RECENT_DOCUMENTS = 8
# Shorter stems (``a.py``, ``io.c``) match words that name something else too often.
MIN_STEM_LENGTH = 3
# A definition keyword right before a name (Python, JavaScript, Go, Rust, C++, Java, Lua...).
DEFINITION = re.compile(
    r"\b(def|class|function|func|fn|struct|enum|interface|trait|type|local function)\s+$"
)


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


def is_named_in(path: str, text: str) -> bool:
    """Whether ``text`` names the file at ``path`` as a word: ``import helpers``,
    ``require('./helpers')``, ``#include "sha256.h"``, or a Java class ``Graph`` in Graph.java.
    A definition of that name (``def norm`` beside norm.py) is the text's own, not a
    reference to the file."""
    stem = PurePath(path).name.split(".")[0]
    if len(stem) < MIN_STEM_LENGTH or stem not in text:  # a plain search first: fast
        return False
    return any(
        not DEFINITION.search(text, max(0, match.start() - 24), match.start())
        for match in _word_pattern(stem).finditer(text)
    )


@lru_cache(maxsize=256)  # keyed by file names: every file ever opened, were it unbounded
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w$]){re.escape(word)}(?![\w$])")
