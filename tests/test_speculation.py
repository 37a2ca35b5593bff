"""Drafting by prompt lookup and accepting drafts: token lists alone, no model."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

from lsp_fim.backends.base import GenerationStats
from lsp_fim.backends.speculation import (
    DRAFT_MAX,
    DRAFT_START,
    NGRAM_MAX,
    NGRAM_MIN,
    Prediction,
    PromptLookup,
    accepted,
    greedy_tokens,
    next_draft_length,
)

TAIL = list(range(10, 10 + NGRAM_MIN))  # a tail of the shortest length looked up


def predictions(tokens: Sequence[int]) -> list[Prediction]:
    return [Prediction(token, -0.5) for token in tokens]


def tokens_of(kept: Sequence[Prediction]) -> list[int]:
    return [prediction.token for prediction in kept]


def test_the_tokens_after_the_tail_found_earlier_are_drafted() -> None:
    lookup = PromptLookup([5, *TAIL, 3, 4, 9, 9, *TAIL])
    assert lookup.draft(2) == [3, 4]
    assert lookup.draft(20) == [3, 4, 9, 9, *TAIL]


def test_the_longest_tail_wins_over_a_later_shorter_one() -> None:
    lookup = PromptLookup([7, *TAIL, 3, 0, *TAIL, 8, 0, 7, *TAIL])
    assert lookup.draft(1) == [3]


def test_the_latest_occurrence_of_a_tail_is_used() -> None:
    lookup = PromptLookup([*TAIL, 7, *TAIL, 8, *TAIL])
    assert lookup.draft(1) == [8]


def test_generated_tokens_are_looked_up_too() -> None:
    lookup = PromptLookup([40, 41])
    assert lookup.draft(4) == []
    lookup.extend([*TAIL, 9, *TAIL])
    assert lookup.draft(4) == [9, *TAIL][:4]


def test_a_tail_never_seen_or_too_short_drafts_nothing() -> None:
    assert PromptLookup([*TAIL, 1]).draft(8) == []
    short = TAIL[1:]
    assert PromptLookup([*short, 99, *short]).draft(8) == []
    assert PromptLookup([]).draft(8) == []


def test_tails_longer_than_the_longest_n_gram_still_match() -> None:
    history = [*range(NGRAM_MAX + 2), 99, *range(NGRAM_MAX + 2)]
    assert PromptLookup(history).draft(1) == [99]


def test_drafts_grow_while_kept_whole_and_shrink_after_a_rejection() -> None:
    assert next_draft_length(DRAFT_START, whole=True) == 2 * DRAFT_START
    assert next_draft_length(DRAFT_MAX, whole=True) == DRAFT_MAX
    assert next_draft_length(DRAFT_START, whole=False) == DRAFT_START // 2
    assert next_draft_length(1, whole=False) == 1


def test_a_draft_the_model_agrees_with_is_kept_whole_with_the_next_token() -> None:
    assert tokens_of(accepted([4, 5, 6], predictions([4, 5, 6, 7]))) == [4, 5, 6, 7]


def test_a_rejected_draft_still_yields_the_model_token() -> None:
    assert tokens_of(accepted([4, 5, 6], predictions([9, 5, 6, 7]))) == [9]


def test_the_draft_is_kept_up_to_the_first_disagreement() -> None:
    assert tokens_of(accepted([4, 5, 6], predictions([4, 8, 6, 7]))) == [4, 8]


def test_without_a_draft_one_token_is_decoded() -> None:
    assert tokens_of(accepted([], predictions([3]))) == [3]


# The prompt ends with a tail seen before it: what followed it there is the first draft.
PROMPT = [50, *TAIL, 5, 6, 7, 8, 9, 60, *TAIL]


class ScriptedModel:
    """A model whose greedy continuation of ``PROMPT`` is ``truth``, over a list as KV cache."""

    def __init__(self, truth: list[int], cancel_in_verification: int = 0) -> None:
        self.truth = truth
        self.cache = PROMPT[:-1]
        self.batches: list[list[int]] = []
        self.cancel = threading.Event()
        self.cancel_in_verification = cancel_in_verification

    def verify(self, tokens: Sequence[int]) -> list[Prediction]:
        self.batches.append(list(tokens))
        predicted = []
        for token in tokens:
            self.cache.append(token)
            predicted.append(self.next_token())
        if len(self.batches) == self.cancel_in_verification:
            self.cancel.set()
        return predictions(predicted)

    def next_token(self) -> int:
        agreed = self.cache[len(PROMPT) :]
        if agreed != self.truth[: len(agreed)]:
            return -1  # after a wrong draft token: anything; it must be thrown away
        return self.truth[len(agreed)]

    def forget(self, count: int) -> None:
        del self.cache[len(self.cache) - count :]
        assert self.cache == [*PROMPT, *self.truth][: len(self.cache)], "a rejected cell stayed"


def generate(
    model: ScriptedModel, max_tokens: int = 50, read: int = 50
) -> tuple[list[int], GenerationStats]:
    """The first ``read`` tokens, read as the engine does: it stops by closing the stream."""
    stats = GenerationStats()
    tokens = greedy_tokens(model, PROMPT[-1], PromptLookup(PROMPT), max_tokens, model.cancel, stats)
    out = list(itertools.islice(tokens, read))
    tokens.close()
    return tokens_of(out), stats


def test_accept_all_a_copy_of_the_prompt_takes_few_decodes() -> None:
    model = ScriptedModel([5, 6, 7, 8, 9, 0])
    out, stats = generate(model, max_tokens=6)
    assert out == [5, 6, 7, 8, 9, 0]
    assert stats.accepted_draft_tokens == stats.draft_tokens == DRAFT_START
    assert model.batches == [[TAIL[-1], 5, 6, 7, 8], [9]]


def test_accept_none_gives_the_plain_greedy_tokens() -> None:
    model = ScriptedModel([9, 8, 7, 6, 5, 4])
    out, stats = generate(model, max_tokens=6)
    assert out == [9, 8, 7, 6, 5, 4]
    assert (stats.verifications, stats.accepted_draft_tokens) == (1, 0)
    assert model.cache == [*PROMPT, 9, 8, 7, 6, 5]  # the last token is not evaluated yet


def test_a_stop_inside_an_accepted_draft_ends_there() -> None:
    model = ScriptedModel([5, 6, 7, 8, 9, 0])
    out, _ = generate(model, read=2)
    assert out == [5, 6]
    assert len(model.batches) == 1, "the draft was verified as a whole"
    # The accepted tokens past the stop stay cached (they are right), nothing else.
    assert model.cache == [*PROMPT, 5, 6, 7, 8]


def test_cancel_during_a_verification_stops_before_the_next() -> None:
    model = ScriptedModel([5, 6, 7, 8, 9, 0, 1, 2], cancel_in_verification=1)
    out, _ = generate(model)
    assert out == [5, 6, 7, 8, 9], "the tokens of that verification, then nothing"
    assert len(model.batches) == 1


def test_never_more_than_max_tokens_drafted_or_yielded() -> None:
    model = ScriptedModel([5, 6, 7, 8, 9, 0])
    out, _ = generate(model, max_tokens=3)
    assert out == [5, 6, 7]
    assert model.batches == [[TAIL[-1], 5, 6]]


def test_without_lookup_every_token_is_its_own_decode() -> None:
    model = ScriptedModel([5, 6, 7, 8])
    stats = GenerationStats()
    tokens = greedy_tokens(model, PROMPT[-1], None, 4, threading.Event(), stats)
    assert tokens_of(list(tokens)) == [5, 6, 7, 8]
    assert model.batches == [[TAIL[-1]], [5], [6], [7]]
    assert stats.verifications == 0


def test_each_kept_token_comes_with_its_own_probability() -> None:
    draft, predicted = [4, 5], [Prediction(4, -0.1), Prediction(5, -0.2), Prediction(6, -0.3)]
    assert [kept.logprob for kept in accepted(draft, predicted)] == [-0.1, -0.2, -0.3]
