"""The scope stop: ends a suggestion where the code at the cursor ends.

Small models write the code that belongs at the cursor and then carry on — the rest of the
function again, the next function, a test. The guard reads the suggestion after every token
and stops it at the first sign that it has left the cursor's place:

* ``scope_closed``: it closes the bracket or block the cursor is in, or dedents out of the
  function around it;
* ``new_sibling``: it starts something beside what it wrote — code after a ``return``, a
  second definition after the first;
* ``suffix_repeat``: its next line is the line that already follows the cursor;
* ``line_complete``: the cursor was within a line, and the line's statement is complete
  (for a line that opens a block: when the block's body already follows the cursor).

Where the cursor is in a line's indentation, the suggestion may be one line or many, and
only the model knows which. Measured on small models, what tells is whether the suggestion
*arrives* at the code after the cursor: it writes that code's next line, writes its own
``return`` where that code goes on, or ends the function where nothing follows. Then all of it
is kept. A suggestion stopped any other way ran past the hole, and is cut at its first line
end that leaves the code whole (``parse_clean``): the rest of the document still parses, and
where indentation is syntax, the code after the cursor still fits under the last line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from lsp_fim.scope.contract import StopDecision, StopReason
from lsp_fim.scope.hole import Hole
from lsp_fim.scope.lines import indent_width, original_offset, plain_newlines
from lsp_fim.scope.profiles import ScopeProfile
from lsp_fim.scope.suggestion import Closing, SuggestionLine, read_suggestion


class _Shape(Enum):
    """Where the cursor is: after code on its line, or where whole lines go."""

    LINE = "line"  # complete the line's statement (and a block it opens)
    LINES = "lines"  # write lines


class _Fit(Enum):
    """How the code after the cursor fits after a line, where indentation is syntax."""

    NONE = "none"
    LOOSE = "loose"  # deeper than a block opener, but not by one level
    WELL = "well"


@dataclass(frozen=True)
class _Cut:
    keep: int  # characters of the plain suggestion
    reason: StopReason
    exact: bool = False  # a bracket decided it: no other line end is looked for
    arrived: bool = False  # the suggestion reached the code after the cursor


@dataclass
class _Reading:
    """What the walk over the suggestion's lines has learnt so far."""

    block_indent: int | None = None  # lines at or left of this indentation leave the scope
    base_indent: int | None = None  # of the first line of code written (LINES)
    statement_start: SuggestionLine | None = None  # first line of the statement at hand
    terminator_indent: int | None = None  # a return-like statement ended at this indentation
    closed_scope: bool = False  # the suggestion closed a bracket or block open at the cursor
    closed_at_cursor: int = 0  # brackets open at the cursor that the suggestion closed
    went_deeper: bool = False  # a line went deeper than the base indentation (LINES)
    statements: list[tuple[SuggestionLine, int]] = field(default_factory=list)  # first line, end
    well_ends: list[int] = field(default_factory=list)  # clean line ends, the suffix fits well
    loose_ends: list[int] = field(default_factory=list)  # clean line ends, however it fits


class ScopeGuard:
    def __init__(self, profile: ScopeProfile, hole: Hole) -> None:
        self._profile = profile
        self._layout = profile.layout
        self._hole = hole
        self._shape = _Shape.LINE if hole.mid_line else _Shape.LINES

    def feed(self, generated: str) -> StopDecision | None:
        cut = self._cut(plain_newlines(generated), final=False)
        return None if cut is None else self._decision(generated, cut)

    def finish(self, generated: str, reason: StopReason) -> StopDecision:
        text = plain_newlines(generated)
        cut = self._cut(text, final=True) or self._ending(text, reason)
        return self._decision(generated, cut)

    def _decision(self, generated: str, cut: _Cut) -> StopDecision:
        return StopDecision(original_offset(generated, self._tidy(generated, cut.keep)), cut.reason)

    def _tidy(self, generated: str, keep: int) -> int:
        """Blank space at the end is dropped, except the one line break that separates lines
        written before code from that code."""
        text = plain_newlines(generated)[:keep]
        code_end = len(text.rstrip())
        if self._hole.tail_blank:
            return code_end
        line_break = text.find("\n", code_end)
        if self._shape is _Shape.LINES and line_break != -1:
            return line_break + 1
        return keep

    # The walk ---------------------------------------------------------------------------

    def _cut(self, text: str, final: bool) -> _Cut | None:
        """The first stop the suggestion so far shows; ``final``: no more text will come."""
        reading = _Reading()
        if self._shape is _Shape.LINE and self._opens_block(self._hole.head_code):
            reading.block_indent = indent_width(self._hole.head)
        for line in read_suggestion(self._hole, self._profile.lexicon, text):
            ready = line.complete or final
            cut = self._at_line_start(line, reading, text, ready)
            if cut is None:
                cut = self._at_closings(line, reading, text, ready)
            if cut is None and ready:
                cut = self._at_line_end(line, reading, text)
            if cut is not None:
                return self._mended(self._best_cut(cut, reading, text), text)
            if not ready:
                return None
        return None

    def _ending(self, text: str, reason: StopReason) -> _Cut:
        """The model stopped by itself. At the end of its stream it said that it was done;
        at the token limit it had run on."""
        reading = _Reading()
        for line in read_suggestion(self._hole, self._profile.lexicon, text):
            if not line.continued and not line.blank:
                reading.statement_start = reading.statement_start or line
            if not line.blank and not self._statement_goes_on(line):
                self._note_statement_end(line, reading, text)
        cut = _Cut(len(text), reason, arrived=reason is StopReason.EOS)
        return self._mended(self._best_cut(cut, reading, text), text)

    def _at_line_start(
        self, line: SuggestionLine, reading: _Reading, text: str, ready: bool
    ) -> _Cut | None:
        """Rules that the first character of code on a line decides (or, for a word that may
        close a block, its first word)."""
        if line.blank or line.continued:
            return None
        if line.start > 0 or not self._hole.mid_line:
            if reading.base_indent is None and self._shape is _Shape.LINES:
                reading.base_indent = line.indent
                reading.block_indent = self._scope_floor(line.indent)
            elif reading.base_indent is not None and line.indent > reading.base_indent:
                reading.went_deeper = True
            cut = self._left_scope(line, reading, ready) or self._dead_code(line, reading)
            if cut is None:
                cut = self._sibling_definition(line, reading, text)
            if cut is not None:
                return cut
        reading.statement_start = reading.statement_start or line
        return None

    def _at_closings(
        self, line: SuggestionLine, reading: _Reading, text: str, ready: bool
    ) -> _Cut | None:
        """A bracket open at the cursor closes: where the text after the cursor closes it
        too, the suggestion ends before it; otherwise it ends with the line that closes it.
        The grammar has the last word on whether the bracket is code at all: the quotes the
        lexer knows miss regular expressions and raw strings."""
        for closing in line.closings:
            syntax = self._hole.syntax
            end = closing.offset + 1
            if syntax is not None and syntax.in_string_or_comment(text[:end], closing.offset):
                continue
            if closing.bracket.supplied and not closing.after_code:
                if not ready:
                    return None  # the line may reopen the block: ``} else {``
                if self._reopens(line, closing, text):
                    continue
            reading.closed_at_cursor += 1
            if closing.bracket.supplied:
                keep = closing.offset if closing.after_code else line.start
                return _Cut(keep, self._closed_reason(reading), exact=True)
            reading.closed_scope = True
        return None

    @staticmethod
    def _reopens(line: SuggestionLine, closing: Closing, text: str) -> bool:
        """``} else {`` closes a block only to open its sibling, which the suffix closes."""
        return closing.bracket.opener in text[closing.offset + 1 : line.end]

    def _at_line_end(self, line: SuggestionLine, reading: _Reading, text: str) -> _Cut | None:
        """Rules that need the whole line: a repeat of the suffix, the end of a statement.

        A line that closes a block the suffix leaves open is the hole's own, even where the
        suffix's next line reads the same (a ``}`` indented like the outer block's)."""
        goes_on = self._statement_goes_on(line) or self._in_cursor_line_brackets(reading)
        if reading.closed_scope and not goes_on:
            return _Cut(self._line_cut(line), self._closed_reason(reading), exact=True)
        if (line.start > 0 or not self._hole.mid_line) and self._repeats_suffix(line):
            return _Cut(line.start, StopReason.SUFFIX_REPEAT, arrived=True)
        if self._body_follows(line, reading, text):
            return _Cut(self._line_cut(line), StopReason.LINE_COMPLETE, arrived=True)
        if goes_on:
            return None
        if line.blank:
            return None
        self._note_statement_end(line, reading, text)
        if self._shape is _Shape.LINE and reading.block_indent is None:
            if self._opens_block(line.code):
                statement_start, _ = reading.statements[-1]
                reading.block_indent = statement_start.indent
                return None
            return _Cut(self._line_cut(line), StopReason.LINE_COMPLETE)
        return None

    # Rules ------------------------------------------------------------------------------

    def _left_scope(self, line: SuggestionLine, reading: _Reading, ready: bool) -> _Cut | None:
        """A line at or left of the block's indentation ends the block. A word that closes
        blocks (``end``, ``fi``) stays in the suggestion unless the suffix has it already."""
        floor = reading.block_indent
        if floor is None or line.indent > floor or self._exempt(line):
            return None
        if line.closings and not line.closings[0].after_code:
            return None  # a closing bracket: _at_closings decides
        closer = self._layout.block_closer
        if closer is not None and not ready:
            return None  # the line's first word may still become a closing one
        if closer is not None and closer.search(line.code) and not self._suffix_has(line):
            reading.closed_scope = True
            return None
        return _Cut(line.start, StopReason.SCOPE_CLOSED, arrived=not self._suffix_inside(floor))

    def _dead_code(self, line: SuggestionLine, reading: _Reading) -> _Cut | None:
        """Code after a ``return`` (or the like) in the same block can never run; a line
        left of the ``return`` is in an outer block and runs."""
        indent = reading.terminator_indent
        if indent is not None and line.indent >= indent:
            return _Cut(line.start, StopReason.NEW_SIBLING)
        reading.terminator_indent = None
        return None

    def _sibling_definition(
        self, line: SuggestionLine, reading: _Reading, text: str
    ) -> _Cut | None:
        """Having written a whole definition where lines go, a second one is not asked for."""
        base = reading.base_indent
        syntax = self._hole.syntax
        if base is None or syntax is None or not reading.went_deeper or line.indent > base:
            return None
        first_code = len(text) - len(text.lstrip())
        if syntax.starts_scope(text[: line.start], first_code):
            return _Cut(line.start, StopReason.NEW_SIBLING)
        return None

    def _without_final_return(self, cut: _Cut, reading: _Reading) -> _Cut:
        """A suggestion ending in a ``return`` in the block that the suffix goes on in would
        leave the suffix dead: it wrote its own ending, which is dropped."""
        terminator = self._layout.terminator
        next_lines = self._hole.next_lines
        done = [start for start, end in reading.statements if end <= cut.keep]
        if terminator is None or not next_lines or not done or self._shape is _Shape.LINE:
            return cut
        if terminator.search(done[-1].code) and done[-1].indent == indent_width(next_lines[0]):
            return _Cut(done[-1].start, StopReason.NEW_SIBLING, arrived=True)
        return cut

    def _body_follows(self, line: SuggestionLine, reading: _Reading, text: str) -> bool:
        """The block that the cursor's line opens has its body after the cursor already (the
        user is retyping or wrapping a header): the code after the cursor goes on deeper, and
        the document parses with the header alone. What the model writes next is its own
        version of that body, so waiting for it only makes the user wait."""
        if self._shape is not _Shape.LINE or reading.block_indent is not None:
            return False
        if line.in_literal or line.depth > 1 or not self._opens_block(line.code):
            return False
        header = reading.statement_start or line
        next_lines = self._hole.next_lines
        deeper = bool(next_lines) and indent_width(next_lines[0]) > header.indent
        return deeper and self._adds_no_errors(text[: self._line_cut(line)])

    def _repeats_suffix(self, line: SuggestionLine) -> bool:
        next_lines = self._hole.next_lines
        return not line.blank and bool(next_lines) and line.text.rstrip() == next_lines[0]

    def _suffix_has(self, line: SuggestionLine) -> bool:
        next_lines = self._hole.next_lines
        return bool(next_lines) and next_lines[0].strip() == line.text.strip()

    def _suffix_inside(self, floor: int) -> bool:
        """Whether the code after the cursor goes on inside the scope that ends at ``floor``."""
        next_lines = self._hole.next_lines
        return bool(next_lines) and indent_width(next_lines[0]) > floor

    # Choosing the cut -------------------------------------------------------------------

    def _note_statement_end(self, line: SuggestionLine, reading: _Reading, text: str) -> None:
        start = reading.statement_start or line
        terminator = self._layout.terminator
        if terminator is not None and terminator.search(start.code):
            reading.terminator_indent = start.indent
        reading.statement_start = None
        end = self._line_cut(line)
        reading.statements.append((start, end))
        fit = self._suffix_fit(line)
        if fit is not _Fit.NONE and self._adds_no_errors(text[:end]):
            if fit is _Fit.WELL:
                reading.well_ends.append(end)
            reading.loose_ends.append(end)

    def _suffix_fit(self, line: SuggestionLine) -> _Fit:
        """A block opener needs the code after it deeper (one level deeper fits well, and a
        clause such as ``else`` never fits); any other line needs it no deeper."""
        next_lines = self._hole.next_lines
        if not self._layout.indentation_significant or self._hole.brackets:
            return _Fit.WELL
        opens_block = self._opens_block(line.code)
        if not next_lines:
            return _Fit.NONE if opens_block else _Fit.WELL
        following = indent_width(next_lines[0])
        if not opens_block:
            return _Fit.WELL if following <= line.indent else _Fit.NONE
        clause = self._layout.clause
        if following <= line.indent or (clause is not None and clause.search(next_lines[0])):
            return _Fit.NONE
        return _Fit.WELL if following == line.indent + self._hole.indent_unit else _Fit.LOOSE

    def _best_cut(self, cut: _Cut, reading: _Reading, text: str) -> _Cut:
        """Where lines go, a suggestion that did not arrive at the suffix is cut at its first
        clean line end; one that did is kept up to its last. A cut that is not clean itself
        gives way to a clean one, or to nothing."""
        if cut.exact:
            return cut
        cut = self._without_final_return(cut, reading)
        ends = [e for e in reading.well_ends if e <= cut.keep] or [
            e for e in reading.loose_ends if e <= cut.keep
        ]
        if self._shape is _Shape.LINES and not cut.arrived and ends:
            same = text[: ends[0]].rstrip() == text[: cut.keep].rstrip()
            return _Cut(ends[0], cut.reason if same else StopReason.PARSE_CLEAN)
        if self._is_clean(cut.keep, reading, text):
            return cut
        if ends:
            return _Cut(ends[-1], StopReason.PARSE_CLEAN)
        return cut if self._shape is _Shape.LINE else _Cut(0, StopReason.PARSE_CLEAN)

    def _mended(self, cut: _Cut, text: str) -> _Cut:
        """Where the code around the cursor does not parse without the suggestion, a line end
        at which it parses whole is where the hole was filled: the suffix goes on from there
        (as the body of the ``for (…) {`` the hole was missing, say). A cut that leaves the code
        broken gives way to the first such line end: what follows it is the model's own version
        of the suffix, which is why the code no longer fits. A bracket's cut that adds errors
        gives way, failing that, to the first line end that adds none."""
        syntax = self._hole.syntax
        if syntax is None or self._shape is not _Shape.LINES:
            return cut
        kept = text[: cut.keep]
        broken = cut.exact and not syntax.adds_no_errors(kept)
        if syntax.mends(kept) or not (syntax.has_errors or broken):
            return cut
        ends = self._line_ends(kept)
        better = next((end for end in ends if syntax.mends(text[:end])), None)
        if better is None and broken:
            better = next((end for end in ends if syntax.adds_no_errors(text[:end])), None)
        return cut if better is None else _Cut(better, StopReason.PARSE_CLEAN)

    def _line_ends(self, kept: str) -> list[int]:
        """Where a cut may fall within ``kept``: after each of its whole lines."""
        lines = read_suggestion(self._hole, self._profile.lexicon, kept)
        return [self._line_cut(line) for line in lines if line.complete and not line.in_literal]

    def _is_clean(self, keep: int, reading: _Reading, text: str) -> bool:
        """Clean line ends are known; elsewhere, only the parse can tell."""
        kept = text[:keep].rstrip()
        if any(text[:end].rstrip() == kept for end in reading.loose_ends):
            return True
        noted = any(text[:end].rstrip() == kept for _, end in reading.statements)
        return not noted and self._adds_no_errors(text[:keep])

    # Small questions ----------------------------------------------------------------------

    def _statement_goes_on(self, line: SuggestionLine) -> bool:
        continuation = self._layout.continuation
        return (
            line.depth > 0
            or line.in_literal
            or (continuation is not None and continuation.search(line.code.rstrip()) is not None)
        )

    def _in_cursor_line_brackets(self, reading: _Reading) -> bool:
        """Within a line, a bracket opened before the cursor on that line keeps the statement
        going until the suggestion closes it."""
        still_open = self._hole.brackets[: len(self._hole.brackets) - reading.closed_at_cursor]
        return self._shape is _Shape.LINE and any(b.on_cursor_line for b in still_open)

    def _opens_block(self, code: str) -> bool:
        return self._layout.block_opener.search(code.rstrip()) is not None

    def _exempt(self, line: SuggestionLine) -> bool:
        exempt = self._layout.indent_exempt
        return exempt is not None and exempt.search(line.text) is not None

    def _scope_floor(self, base_indent: int) -> int | None:
        """The indentation of the innermost scope that holds both the lines written at
        ``base_indent`` and the code after the cursor (a nested function's suffix may go on
        in the function around it)."""
        inside = [indent for indent in self._hole.scope_indents if indent < base_indent]
        next_lines = self._hole.next_lines
        if next_lines:
            inside = [i for i in inside if i < indent_width(next_lines[0])] or inside
        return inside[-1] if inside else None

    def _line_cut(self, line: SuggestionLine) -> int:
        """Where a cut after ``line`` falls: lines inserted before a line of code keep their
        line break, or they would run into it."""
        inserts_lines = not self._hole.mid_line and not self._hole.tail_blank
        return line.end + 1 if line.complete and inserts_lines else line.end

    def _closed_reason(self, reading: _Reading) -> StopReason:
        """Within a line the statement completes; around a block, the block closes."""
        if self._shape is _Shape.LINE and reading.block_indent is None:
            return StopReason.LINE_COMPLETE
        return StopReason.SCOPE_CLOSED

    def _adds_no_errors(self, inserted: str) -> bool:
        syntax = self._hole.syntax
        return syntax is None or syntax.adds_no_errors(inserted)
