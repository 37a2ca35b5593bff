"""Blanks out strings and comments, so that brackets and line patterns only see code.

This is no tokenizer: it knows a language's quotes and comment markers (from its
``scope.toml``) and nothing else. That is enough for the questions the scope stop asks of
code — is this bracket real, does this line end with ``:`` — and it runs on a growing
suggestion fast enough to be asked after every token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from lsp_fim.scope.profiles import Delimited, Lexicon


@dataclass(frozen=True)
class Blanked:
    """``text`` with string contents and whole comments replaced by spaces (newlines kept), and
    the string or comment still open at its end (``None``: the text ends in code)."""

    text: str
    open_form: Delimited | None


def blank_out(text: str, lexicon: Lexicon, open_form: Delimited | None = None) -> Blanked:
    """``open_form`` is the string or comment that ``text`` starts inside of, if any."""
    pieces: list[str] = []
    position = 0
    while position < len(text):
        if open_form is None:
            found = _opening(text, position, lexicon)
            if found is None:
                pieces.append(text[position:])
                break
            start, open_form = found
            pieces.append(text[position:start])
            pieces.append(_blank(open_form.open) if open_form.comment else open_form.open)
            position = start + len(open_form.open)
        else:
            end, closed = _closing(text, position, open_form)
            pieces.append(_blank(text[position:end]))
            position = end
            if closed:
                closing = text[end : end + len(open_form.close)]
                pieces.append(_blank(closing) if open_form.comment else closing)
                position += len(closing)
                open_form = None
            elif end < len(text):  # a string that may not span lines ends with its line
                open_form = None
    return Blanked("".join(pieces), open_form)


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


@cache
def _openers(forms: tuple[Delimited, ...]) -> re.Pattern[str] | None:
    if not forms:
        return None
    return re.compile("|".join(re.escape(form.open) for form in forms))


def _opening(text: str, position: int, lexicon: Lexicon) -> tuple[int, Delimited] | None:
    """The next string or comment that really opens: quotes that never close in time and
    comment markers inside a word (``$#``) are skipped."""
    openers = _openers(lexicon.forms)
    if openers is None:
        return None
    while (match := openers.search(text, position)) is not None:
        form = next(f for f in lexicon.forms if f.open == match.group())
        start = match.start()
        if _really_opens(text, start, form, lexicon):
            return start, form
        position = start + 1
    return None


def _really_opens(text: str, start: int, form: Delimited, lexicon: Lexicon) -> bool:
    if form.comment and lexicon.comments_start_words and start > 0:
        return text[start - 1].isspace()
    if form.max_length is None:
        return True
    return _is_char_literal(text, start + len(form.open), form, form.max_length)


def _is_char_literal(text: str, body: int, form: Delimited, max_length: int) -> bool:
    """One character or one escape sequence, then the closing quote; text that ends before
    telling counts as a literal still being written."""
    if not text.startswith("\\", body):
        return len(text) <= body + 1 or text.startswith(form.close, body + 1)
    end, closed = _closing(text, body, form)
    if closed:
        return end - body <= max_length
    return end == len(text) and len(text) - body < max_length


@cache
def _body_stops(form: Delimited) -> re.Pattern[str]:
    stops = [re.escape(form.close)]
    if form.escapes:
        stops.insert(0, r"\\[\s\S]")
    if not form.multiline:
        stops.append("\n")
    return re.compile("|".join(stops))


def _closing(text: str, position: int, form: Delimited) -> tuple[int, bool]:
    """Where the open form's body ends and whether its closing text is there. A string that
    may not span lines gives up at the line's end."""
    stops = _body_stops(form)
    while (match := stops.search(text, position)) is not None:
        if match.group() == form.close:
            return match.start(), True
        if match.group() == "\n":
            return match.start(), False
        position = match.end()  # an escaped character
    return len(text), False
