"""The trace: which lines of the corpus are retyped, and the document at each keystroke."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lsp_fim.languages import language_id_for_path

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
# The first file is the "~2k-token file" whose first suggestion after a pause is reported.
DEFAULT_FILES = ("graphlib.py", "ini.js", "branching.ts", "sha256.c")
CORPUS_SUFFIX = ".txt"

T = TypeVar("T")


@dataclass(frozen=True)
class CorpusFile:
    """A vendored real file, under the name (and so the language) an editor would see."""

    name: str
    text: str

    @property
    def language_id(self) -> str:
        return language_id_for_path(self.name)


@dataclass(frozen=True)
class TypedLine:
    """One line to retype: everything after its indentation is removed first."""

    line: int
    indent: str
    text: str


_COMMENT_STARTS = ("#", "//", "/*", "*", '"""', "'''", "<!--")


_CODE_PUNCTUATION = re.compile(r"[()=\[\]{};]")
_WORD = re.compile(r"\b[A-Za-z_][A-Za-z_0-9]{2,}")  # not within hex literals like 0x4d2c6dfc


def is_typable(line: str) -> bool:
    """Indented code of typing length: long enough for several requests, short enough that a
    line fits the default run, ASCII so that LSP columns equal code-point columns. Code
    punctuation and a real identifier keep out docstring prose, data tables and macro bodies."""
    body = line.lstrip(" \t")
    return (
        line != body
        and 20 <= len(body) <= 60
        and body == body.rstrip()
        and body.isascii()
        and not body.startswith(_COMMENT_STARTS)
        and not body.endswith("\\")
        and _CODE_PUNCTUATION.search(body) is not None
        and _WORD.search(body) is not None
    )


def choose_lines(text: str, count: int) -> list[TypedLine]:
    """``count`` typable lines spread evenly over the middle of the file (20 %..90 %), where
    both the prefix and the suffix windows have real content; deterministic, no seed."""
    lines = text.split("\n")
    low, high = len(lines) // 5, (len(lines) * 9) // 10
    candidates = [n for n in range(low, high) if is_typable(lines[n].rstrip("\r"))]
    chosen = evenly_sample(candidates, count)
    return [typed_line(lines[n].rstrip("\r"), n) for n in chosen]


def typed_line(line: str, number: int) -> TypedLine:
    body = line.lstrip(" \t")
    return TypedLine(number, line[: len(line) - len(body)], body)


def evenly_sample(items: Sequence[T], count: int) -> list[T]:
    """At most ``count`` items, evenly spaced and in their original order."""
    if count >= len(items):
        return list(items)
    if count <= 0:
        return []
    return [items[int((index + 0.5) * len(items) / count)] for index in range(count)]


def document_state(text: str, typed: TypedLine, typed_chars: int) -> tuple[str, int]:
    """The document after the first ``typed_chars`` characters of the emptied line were typed
    back, and the cursor's code-point offset; ``typed_chars == len(typed.text)`` is the
    original file again."""
    lines = text.split("\n")
    head = "\n".join(lines[: typed.line])
    start = len(head) + (1 if typed.line else 0) + len(typed.indent)
    old_end = start + len(typed.text)
    partial = typed.text[:typed_chars]
    return text[:start] + partial + text[old_end:], start + len(partial)


def deletion_change(typed: TypedLine) -> dict[str, Any]:
    """The incremental change that empties the line after its indentation."""
    column = len(typed.indent)
    return {
        "range": _range(typed.line, column, typed.line, column + len(typed.text)),
        "text": "",
    }


def keystroke_change(typed: TypedLine, index: int) -> dict[str, Any]:
    """The incremental change that types character ``index`` of the line."""
    column = len(typed.indent) + index
    return {"range": _range(typed.line, column, typed.line, column), "text": typed.text[index]}


def _range(line: int, start: int, end_line: int, end: int) -> dict[str, Any]:
    return {
        "start": {"line": line, "character": start},
        "end": {"line": end_line, "character": end},
    }


def load_corpus(names: Sequence[str]) -> list[CorpusFile]:
    """The named files; a missing name is an error that lists what exists."""
    available = sorted(p.name.removesuffix(CORPUS_SUFFIX) for p in CORPUS_DIR.glob("*.txt"))
    files = []
    for name in names:
        if name not in available:
            raise SystemExit(f"no corpus file {name!r}; available: {', '.join(available)}")
        path = CORPUS_DIR / (name + CORPUS_SUFFIX)
        files.append(CorpusFile(name, path.read_text(encoding="utf-8")))
    return files
