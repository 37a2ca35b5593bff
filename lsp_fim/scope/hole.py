"""What surrounds the cursor, read once per request before the first token arrives.

The document may be large; only a window of lines around the cursor is read. The window
starts at a line of no indentation where one is near, so that its bracket count and its parse
begin between top-level items.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from lsp_fim.scope.lexer import blank_out
from lsp_fim.scope.lines import (
    first_lines,
    indent_width,
    is_blank,
    last_lines,
    plain_newlines,
)
from lsp_fim.scope.profiles import Delimited, Lexicon, ScopeProfile
from lsp_fim.scope.syntax import WindowSyntax

PREFIX_WINDOW_LINES = 150
SUFFIX_WINDOW_LINES = 60
NEXT_CODE_LINES = 3
DEFAULT_INDENT_UNIT = 4


@dataclass(frozen=True)
class OpenBracket:
    """A bracket open at the cursor; ``supplied``: the text after the cursor closes it."""

    opener: str
    closer: str
    indent: int  # of the line it was opened on
    supplied: bool
    on_cursor_line: bool


@dataclass(frozen=True)
class Hole:
    head: str  # the cursor's line before the cursor
    head_code: str  # the same with strings and comments blanked out
    tail: str  # the cursor's line after the cursor
    open_form: Delimited | None  # the string or comment the cursor is in
    brackets: tuple[OpenBracket, ...]  # innermost last
    next_lines: tuple[str, ...]  # the first lines of code that will follow the suggestion
    scope_indents: tuple[int, ...]  # first-line indentation of the scopes around, outermost first
    indent_unit: int  # the step between indentation levels in this document
    syntax: WindowSyntax | None

    @property
    def mid_line(self) -> bool:
        """The cursor follows code on its line (``return |``), rather than indentation."""
        return not is_blank(self.head)

    @property
    def tail_blank(self) -> bool:
        return is_blank(self.tail)


def read_hole(profile: ScopeProfile, prefix: str, suffix: str) -> Hole:
    before = last_lines(plain_newlines(prefix), PREFIX_WINDOW_LINES)
    after = first_lines(plain_newlines(suffix), SUFFIX_WINDOW_LINES)
    lexicon = profile.lexicon
    blanked_before = blank_out(before, lexicon)
    head = before[before.rfind("\n") + 1 :]
    tail = after.split("\n", 1)[0]
    opened = _open_brackets(blanked_before.text, lexicon)
    cursor_line_start = len(before) - len(head)
    supplied = _closed_later(
        blank_out(after, lexicon, blanked_before.open_form).text, opened, lexicon
    )
    brackets = tuple(
        OpenBracket(
            opener,
            lexicon.brackets[opener],
            indent,
            supplied=index in supplied,
            on_cursor_line=position >= cursor_line_start,
        )
        for index, (opener, indent, position) in enumerate(opened)
    )
    syntax = None
    if profile.grammar is not None:
        syntax = WindowSyntax(profile.grammar, before, after)
    at_last_code = profile.layout.indentation_significant
    scope_indents = syntax.scope_indents(at_last_code) if syntax is not None else ()
    scope_indents = scope_indents or _indent_ancestors(before)
    return Hole(
        head=head,
        head_code=blanked_before.text[len(before) - len(head) :],
        tail=tail,
        open_form=blanked_before.open_form,
        brackets=brackets,
        next_lines=_next_code_lines(head, after),
        scope_indents=scope_indents,
        indent_unit=_indent_unit(before),
        syntax=syntax,
    )


@cache
def _bracket_pattern(brackets: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(brackets) + "\n]")


def _bracket_chars(lexicon: Lexicon) -> str:
    return "".join(lexicon.brackets) + "".join(lexicon.brackets.values())


def _open_brackets(code: str, lexicon: Lexicon) -> list[tuple[str, int, int]]:
    """Brackets left open at the end of ``code``: each with the indentation of its line and
    its position. A
    closer that matches no open bracket is skipped; one that matches a deeper bracket closes
    everything above it, as an editor's bracket matcher would."""
    stack: list[tuple[str, int, int]] = []
    line_indent = indent_width(code)
    closers = lexicon.closers
    for match in _bracket_pattern(_bracket_chars(lexicon)).finditer(code):
        char = match.group()
        if char == "\n":
            line_end = code.find("\n", match.end())
            line_indent = indent_width(code[match.end() : None if line_end == -1 else line_end])
        elif char in lexicon.brackets:
            stack.append((char, line_indent, match.start()))
        else:
            depth = next(
                (i for i in range(len(stack) - 1, -1, -1) if stack[i][0] == closers[char]), None
            )
            if depth is not None:
                del stack[depth:]
    return stack


def _closed_later(
    code: str, opened: list[tuple[str, int, int]], lexicon: Lexicon
) -> frozenset[int]:
    """Which of ``opened`` the text after the cursor closes.

    A closer that starts its line closes the open bracket whose line has its indentation
    (``}`` under ``for (…) {`` closes the loop, not a block the hole is still in); any other
    closer closes the innermost bracket still open. So a hole that must close a block itself
    is told so even when the text after it closes the blocks around that one.
    """
    closers = lexicon.closers
    # Unsupplied brackets, innermost last: by opener, and by opener and indentation. Supplied
    # ones are dropped from the ends lazily, so each closer costs O(1), not O(len(opened)).
    by_opener: dict[str, list[int]] = {}
    by_indent: dict[tuple[str, int], list[int]] = {}
    for index, (opener, width, *_) in enumerate(opened):
        by_opener.setdefault(opener, []).append(index)
        by_indent.setdefault((opener, width), []).append(index)
    pending = 0
    supplied: set[int] = set()
    line_start = 0
    code_before = False  # code between the line's start and this closer
    last_end = 0
    for match in _bracket_pattern(_bracket_chars(lexicon)).finditer(code):
        char = match.group()
        code_before = code_before or bool(code[last_end : match.start()].strip())
        last_end = match.end()
        if char == "\n":
            line_start, code_before = match.end(), False
            continue
        starts_line = not code_before
        code_before = True
        if char in lexicon.brackets:
            pending += 1
        elif char in lexicon.closers and pending:
            pending -= 1
        elif char in lexicon.closers:
            candidates = _unsupplied(by_opener.get(closers[char], []), supplied)
            if candidates is None:
                break
            width = indent_width(code[line_start : code.find("\n", line_start) % (len(code) + 1)])
            aligned = _unsupplied(by_indent.get((closers[char], width), []), supplied)
            supplied.add(aligned if starts_line and aligned is not None else candidates)
    return frozenset(supplied)


def _unsupplied(indices: list[int], supplied: set[int]) -> int | None:
    """The innermost of ``indices`` not yet supplied (supplied ones at the end are dropped)."""
    while indices and indices[-1] in supplied:
        indices.pop()
    return indices[-1] if indices else None


def _next_code_lines(head: str, after: str) -> tuple[str, ...]:
    """A cursor in the indentation of a line inserts lines before it, so that line is the
    first to follow; after code, the rest of the cursor's line is no line of its own."""
    lines = after.split("\n")
    if not is_blank(head):
        lines = lines[1:]
    elif lines:
        lines[0] = head + lines[0]
    return tuple(line.rstrip() for line in lines if not is_blank(line))[:NEXT_CODE_LINES]


def _indent_unit(before: str) -> int:
    """The most common step by which a line is indented deeper than the one above it."""
    steps: Counter[int] = Counter()
    previous: int | None = None
    for line in before.split("\n"):
        if is_blank(line):
            continue
        indent = indent_width(line)
        if previous is not None and indent > previous:
            steps[indent - previous] += 1
        previous = indent
    return steps.most_common(1)[0][0] if steps else DEFAULT_INDENT_UNIT


def _indent_ancestors(before: str) -> tuple[int, ...]:
    """Where no grammar (or no node) tells, each less indented line above the cursor counts
    as a scope."""
    indents: list[int] = []
    for line in reversed(before.split("\n")[:-1]):
        if is_blank(line):
            continue
        indent = indent_width(line)
        if not indents or indent < indents[-1]:
            indents.append(indent)
        if indent == 0:
            break
    return tuple(reversed(indents))
