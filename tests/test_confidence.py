"""Confidence from the model's token probabilities, and staying silent below ``minConfidence``:
pure functions and the engine over a scripted backend that scores its pieces."""

from __future__ import annotations

import math

import pytest
from scripted import PlainTemplate, ScoredBackend, ScriptedBackend

from lsp_fim.backends.base import TokenChoice
from lsp_fim.confidence import confidence, kept_choices
from lsp_fim.config import Settings, settings_from_wire
from lsp_fim.engine import CompletionEngine, CompletionRequest

TEXT = "values = [1, 2, 3]\ntotal = "
REQUEST = CompletionRequest(TEXT, len(TEXT), "python", "/tmp/sums.py")
SURE = math.log(0.9)
UNSURE = math.log(0.2)


def engine(logprob: float, min_confidence: float) -> CompletionEngine:
    backend = ScoredBackend({"": [("sum(", logprob, ()), ("values)", logprob, ())]})
    return CompletionEngine(backend, PlainTemplate(), Settings(min_confidence=min_confidence))


def test_the_confidence_is_the_probability_of_the_whole_suggestion() -> None:
    choices = [TokenChoice(1, math.log(0.5)), TokenChoice(2, math.log(0.125))]
    assert confidence(choices) == pytest.approx(0.0625)


def test_without_probabilities_there_is_no_confidence() -> None:
    assert confidence([]) is None


def test_only_the_tokens_whose_text_was_kept_count() -> None:
    choices = [TokenChoice(4, -0.1), TokenChoice(9, -0.2), TokenChoice(12, -3.0)]
    assert kept_choices(choices, 9) == tuple(choices[:2])
    assert kept_choices(choices, 5) == tuple(choices[:2]), "a token kept in part counts"
    assert kept_choices(choices, 0) == ()


def test_a_suggestion_surer_than_the_threshold_is_shown_with_its_confidence() -> None:
    completion = engine(SURE, min_confidence=0.5).complete(REQUEST)
    assert completion is not None and completion.text == "sum(values)"
    assert completion.confidence == pytest.approx(0.81)


def test_a_suggestion_below_the_threshold_is_not_shown_and_is_counted() -> None:
    unsure = engine(UNSURE, min_confidence=0.5)
    completion = unsure.complete(REQUEST)
    assert completion is not None and completion.text == ""
    assert completion.confidence == pytest.approx(0.04)
    assert unsure.counters_snapshot().low_confidence == 1
    again = unsure.complete(REQUEST)
    assert again is not None and again.text == "", "the cache holds the silence, not the text"


def test_by_default_a_suggestion_the_model_gave_under_a_thousandth_is_not_shown() -> None:
    backend = ScoredBackend({"": [("sum(", math.log(0.03), ()), ("values)", math.log(0.03), ())]})
    default = CompletionEngine(backend, PlainTemplate(), Settings())
    completion = default.complete(REQUEST)
    assert completion is not None and completion.text == ""


def test_zero_shows_every_suggestion() -> None:
    completion = engine(math.log(0.01), min_confidence=0.0).complete(REQUEST)
    assert completion is not None and completion.text == "sum(values)"


def test_an_explicit_request_is_answered_whatever_the_confidence() -> None:
    unsure = engine(UNSURE, min_confidence=0.5)
    (first,) = unsure.complete_alternatives(REQUEST)
    assert first.text == "sum(values)"
    assert unsure.counters_snapshot().low_confidence == 0


def test_a_backend_that_gives_no_probabilities_is_never_silenced() -> None:
    backend = ScriptedBackend({"total": ["sum(values)"]})
    http_like = CompletionEngine(backend, PlainTemplate(), Settings(min_confidence=0.99))
    completion = http_like.complete(REQUEST)
    assert completion is not None and completion.text == "sum(values)"
    assert completion.confidence is None


@pytest.mark.parametrize("value", [-0.1, 1.5, "high", True])
def test_min_confidence_outside_0_to_1_is_refused_by_name(value: object) -> None:
    settings, problems = settings_from_wire({"minConfidence": value})
    assert settings.min_confidence == Settings().min_confidence
    assert len(problems) == 1 and "minConfidence" in problems[0]
