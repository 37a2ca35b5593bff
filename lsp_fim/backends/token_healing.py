"""Token healing: where a prompt ends in the user's text (a template laid out suffix first),
it ends before the text that tokenizing cut at the cursor, and generation writes that text
first, which the suggestion leaves out again.

A prompt's last token is often a piece of a longer one cut at the cursor ("sel" of "self",
the space of " =") that the model, reading text that was never cut that way, would not
continue: laid out suffix first, Qwen2.5-Coder-0.5B completed 0 of 24 cursors inside a line
as the file went on, and 12 of 24 with the token healed (11 of 24 laid out prefix first). So
the prompt stops before it, and generation starts with a token that starts with its text.

A cursor in a line's indentation is cut in another way: the tokenizer spells the indentation
of ``        total`` as 7 spaces and `` total``, so neither the 8-space token nor a token
starting with it leads on (the suggestion there started with a stray space, or a blank
line). There the prompt ends before the indentation, and generation may spell it in pieces.
(README: Prompt layout.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from lsp_fim.backends.base import FimPrompt
from lsp_fim.backends.speculation import Drafter, Prediction


@dataclass
class GivenText:
    """What the prompt left out at its end: generation writes it first, and the suggestion
    leaves it out again. Belongs to one generation (the thread running it)."""

    rest: bytes
    # A token that always qualifies: the healed token itself, or the indentation's first.
    fallback: int
    # Whether tokens that are a part of the rest qualify too (an indentation, in pieces).
    in_pieces: bool = False

    def qualifies(self, piece: bytes) -> bool:
        return piece.startswith(self.rest) or (
            self.in_pieces and bool(piece) and self.rest.startswith(piece)
        )

    def consume(self, piece: bytes) -> bytes:
        """``piece`` (a generated token's bytes, which qualified) less the given text in it."""
        cut = min(len(piece), len(self.rest))
        self.rest = self.rest[cut:]
        return piece[cut:]


def heal(
    prompt: FimPrompt,
    tokens: list[int],
    last_piece_size: int,
    tokenize: Callable[[str], list[int]],
    piece: Callable[[int], bytes],
) -> tuple[list[int], GivenText | None]:
    """``tokens`` (``prompt``'s, the last ``last_piece_size`` of them its last piece's) less
    the text to heal, and that text; ``tokens`` and None where the prompt does not end in the
    user's text. (An alternative's given start, which also ends a prompt, is whole tokens
    already.)"""
    last = prompt.pieces[-1] if prompt.pieces else None
    if last is None or last.marker or not last.text or prompt.started or len(tokens) < 2:
        return tokens, None
    indentation = _indentation_at_end(last.text)
    if not indentation:
        return tokens[:-1], GivenText(piece(tokens[-1]), tokens[-1])
    head = tokens[: len(tokens) - last_piece_size]
    head += tokenize(last.text[: -len(indentation)])
    return head, GivenText(indentation.encode("utf-8"), tokenize(indentation)[0], in_pieces=True)


def _indentation_at_end(text: str) -> str:
    """The spaces and tabs that end ``text`` after its last line break, when nothing else
    does: the cursor stands in a line's indentation."""
    line = text[text.rfind("\n") + 1 :]
    return line if line and not line.strip(" \t") else ""


class HealingBackend(Protocol):
    def verify(self, tokens: Sequence[int], healing: GivenText | None = None) -> list[Prediction]:
        """The first prediction qualifies for ``healing``'s text."""

    def forget(self, count: int) -> None: ...


class HealingVerifier:
    """A backend's :class:`~lsp_fim.backends.speculation.Verifier` whose first prediction of
    each verification qualifies for what is left of the given text (the generation consumes
    it as it reads the predictions, before it asks for the next verification)."""

    def __init__(self, backend: HealingBackend, given: GivenText) -> None:
        self._backend = backend
        self._given = given

    def verify(self, tokens: Sequence[int]) -> list[Prediction]:
        return self._backend.verify(tokens, self._given if self._given.rest else None)

    def forget(self, count: int) -> None:
        self._backend.forget(count)


class DraftsAfterHealing:
    """A :class:`~lsp_fim.backends.speculation.Drafter` that drafts nothing while the given
    text may still take several tokens (an indentation): a verification holds only its first
    prediction to the given text, so a draft's later predictions would not be. The generation
    consumes the given text before it asks for the next draft."""

    def __init__(self, lookup: Drafter, given: GivenText) -> None:
        self._lookup = lookup
        self._given = given

    def draft(self, limit: int) -> list[int]:
        return [] if self._given.in_pieces and self._given.rest else self._lookup.draft(limit)

    def extend(self, tokens: Iterable[int]) -> None:
        self._lookup.extend(tokens)
