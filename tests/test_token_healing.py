"""Token healing's bookkeeping, over scripted tokenizers and backends: which text a prompt
leaves out at its end, which tokens may write it, and that only predictions made while some
of it is left are held to it, drafted tokens or not."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from lsp_fim.backends.base import FimPrompt, GenerationStats
from lsp_fim.backends.speculation import Drafter, Prediction, PromptLookup, greedy_tokens
from lsp_fim.backends.token_healing import DraftsAfterHealing, GivenText, HealingVerifier, heal
from lsp_fim.prompt import PromptPiece

HEALED = 7
MARKER = PromptPiece("<|fim_middle|>", marker=True)
VOCABULARY: dict[str, int] = {}


def tokenize(text: str) -> list[int]:
    """A stand-in tokenizer: a token per character, spaces in runs of up to 3."""
    tokens, at = [], 0
    while at < len(text):
        run = 3 if text.startswith("   ", at) else 1
        tokens.append(VOCABULARY.setdefault(text[at : at + run], len(VOCABULARY) + 100))
        at += run
    return tokens


def piece(token: int) -> bytes:
    return next(text for text, known in VOCABULARY.items() if known == token).encode()


def ends_in(text: str) -> FimPrompt:
    return FimPrompt((MARKER, PromptPiece(text, marker=False)), text, "")


def test_a_prompt_ending_in_a_word_leaves_its_last_token_out() -> None:
    tokens = [1, *tokenize("x = sel")]
    kept, given = heal(ends_in("x = sel"), tokens, len(tokens) - 1, tokenize, piece)
    assert kept == tokens[:-1]
    assert given == GivenText(b"l", tokens[-1])


def test_a_cursor_in_an_indentation_leaves_the_whole_indentation_out() -> None:
    """Spelt "   " + " total" by the tokenizer, 4 spaces of indentation are no token that a
    continuation starts with: generation writes them in pieces."""
    text = "for v in values:\n    "
    kept, given = heal(ends_in(text), [1, *tokenize(text)], len(tokenize(text)), tokenize, piece)
    assert kept == [1, *tokenize("for v in values:\n")]
    assert given is not None and given.rest == b"    " and given.in_pieces
    assert given.qualifies(b"   ") and given.qualifies(b"     total")
    assert not given.qualifies(b"\n") and not given.qualifies(b"")
    assert given.consume(b"   ") == b"" and given.rest == b" "
    assert given.consume(b" total") == b"total" and given.rest == b""


def test_a_word_s_token_qualifies_whole_only() -> None:
    given = GivenText(b"sel", HEALED)
    assert given.qualifies(b"self") and not given.qualifies(b"se")


def test_a_prompt_ending_in_a_marker_or_with_a_given_start_is_not_healed() -> None:
    tokens = [1, 2, 3]
    in_marker = FimPrompt((PromptPiece("a", marker=False), MARKER), "a", "")
    assert heal(in_marker, tokens, 1, tokenize, piece) == (tokens, None)
    started = FimPrompt((MARKER, PromptPiece("x = ", marker=False)), "x = ", "", started="x = ")
    assert heal(started, tokens, 2, tokenize, piece) == (tokens, None)


class ScriptedBackend:
    """Answers each verification with the next scripted tokens; records what was left to
    heal at each one."""

    def __init__(self, script: list[list[int]]) -> None:
        self.script = script
        self.healing: list[bytes | None] = []
        self.verified: list[list[int]] = []

    def verify(self, tokens: Sequence[int], healing: GivenText | None = None) -> list[Prediction]:
        self.healing.append(healing.rest if healing else None)
        self.verified.append(list(tokens))
        return [Prediction(token) for token in self.script.pop(0)]

    def forget(self, count: int) -> None:
        pass


def generate(
    given: GivenText,
    backend: ScriptedBackend,
    pieces: dict[int, bytes],
    lookup: Drafter | None = None,
) -> list[int]:
    """The tokens generated, each consumed as the backend's generation consumes them."""
    verifier = HealingVerifier(backend, given)
    generated = []
    cancel = threading.Event()
    for prediction in greedy_tokens(verifier, 100, lookup, 4, cancel, GenerationStats()):
        given.consume(pieces[prediction.token])
        generated.append(prediction.token)
    return generated


def test_only_predictions_made_while_given_text_is_left_are_held_to_it() -> None:
    backend = ScriptedBackend([[1], [2], [3], [4]])
    pieces = {1: b"   ", 2: b" total", 3: b" +=", 4: b" v"}
    assert generate(GivenText(b"    ", 1, in_pieces=True), backend, pieces) == [1, 2, 3, 4]
    assert backend.healing == [b"    ", b" ", None, None]


def test_a_draft_verified_with_the_first_prediction_is_healed_at_that_prediction_only() -> None:
    """The first verification carries drafted tokens: the healing is still asked once."""
    backend = ScriptedBackend([[5, 6, 9], [4]])
    pieces = {5: b"self", 6: b".", 9: b"x", 4: b"y"}
    lookup = PromptLookup([1, 2, 3, 4, 100, 5, 6, 1, 2, 3, 4, 100])
    assert generate(GivenText(b"sel", HEALED), backend, pieces, lookup=lookup) == [5, 6, 9, 4]
    assert backend.healing == [b"sel", None]


def test_drafts_wait_until_an_indentation_given_in_pieces_is_written() -> None:
    """The history has a draft at every step, but only the verification after the last
    space of the indentation was written carries one."""
    backend = ScriptedBackend([[1], [2], [3, 4]])
    pieces = {1: b"   ", 2: b" ", 3: b"x", 4: b"y"}
    given = GivenText(b"    ", 1, in_pieces=True)
    lookup = DraftsAfterHealing(PromptLookup([5, 5, 5, 5, 1, 2, 3, 6, 5, 5, 5, 5]), given)
    assert generate(given, backend, pieces, lookup=lookup) == [1, 2, 3, 4]
    assert backend.verified == [[100], [1], [2, 3]]
    assert backend.healing == [b"    ", b" ", None]
