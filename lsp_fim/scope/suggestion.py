"""The suggestion so far, read line by line as it will stand in the document.

Read afresh after every token: a suggestion is a few hundred characters, and reading it
whole keeps the guard free of state that could drift from the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsp_fim.scope.hole import Hole, OpenBracket
from lsp_fim.scope.lexer import blank_out
from lsp_fim.scope.lines import indent_width, is_blank
from lsp_fim.scope.profiles import Lexicon


@dataclass(frozen=True)
class Closing:
    """A closing bracket in the suggestion that closes one already open at the cursor."""

    offset: int  # in the suggestion
    bracket: OpenBracket
    after_code: bool  # code precedes it on its line


@dataclass(frozen=True)
class SuggestionLine:
    """One line; the first includes the text before the cursor. Offsets are the suggestion's:
    the line's own text runs from ``start`` to ``end`` (its newline, or the end so far)."""

    start: int
    end: int
    complete: bool
    text: str
    code: str  # strings and comments blanked out
    indent: int
    continued: bool  # starts inside brackets, a string or a comment begun above
    depth: int  # brackets the suggestion opened that are still open at the line's end
    in_literal: bool  # ends inside a string or comment that goes on
    closings: tuple[Closing, ...]

    @property
    def blank(self) -> bool:
        return is_blank(self.code)


def read_suggestion(hole: Hole, lexicon: Lexicon, text: str) -> list[SuggestionLine]:
    lines: list[SuggestionLine] = []
    form = hole.open_form
    opened: list[str] = []  # brackets the suggestion opened, innermost last
    closed_at_cursor = 0
    start = 0
    while start <= len(text):
        newline = text.find("\n", start)
        end = len(text) if newline == -1 else newline
        continued = bool(opened) or form is not None
        blanked = blank_out(text[start : end + 1], lexicon, form)
        code = blanked.text[: end - start]
        form = blanked.open_form
        head, head_code = (hole.head, hole.head_code) if start == 0 else ("", "")
        closings: list[Closing] = []
        for index, char in enumerate(code):
            if char in lexicon.brackets:
                opened.append(char)
            elif char in lexicon.closers and opened:
                _close_opened(opened, lexicon.closers[char])
            elif char in lexicon.closers:
                at = len(hole.brackets) - 1 - closed_at_cursor
                if at >= 0 and hole.brackets[at].closer == char:
                    closed_at_cursor += 1
                    after_code = not is_blank(head_code + code[:index])
                    closings.append(Closing(start + index, hole.brackets[at], after_code))
        lines.append(
            SuggestionLine(
                start=start,
                end=end,
                complete=newline != -1,
                text=head + text[start:end],
                code=head_code + code,
                indent=indent_width(head + text[start:end]),
                continued=continued,
                depth=len(opened),
                in_literal=form is not None and form.multiline,
                closings=tuple(closings),
            )
        )
        if newline == -1:
            break
        start = newline + 1
    return lines


def _close_opened(opened: list[str], opener: str) -> None:
    """A closer pops its opener and anything left open inside it; a stray one pops nothing."""
    for index in range(len(opened) - 1, -1, -1):
        if opened[index] == opener:
            del opened[index:]
            return
