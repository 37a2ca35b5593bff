"""The quality harness's confidence and alternatives figures, on made-up attempts."""

from __future__ import annotations

import math

import pytest

from bench.quality.gating import (
    alternatives_summary,
    auc,
    curve,
    render_alternatives,
    render_gating,
    separations,
)
from bench.quality.running import Attempt


def attempt(
    correct: bool,
    logprobs: tuple[float, ...],
    text: str = "x",
    alternatives_correct: tuple[bool, ...] = (),
) -> Attempt:
    return Attempt(
        "t",
        "scope",
        text,
        "eos",
        len(logprobs),
        10,
        10,
        100.0,
        300.0,
        correct=correct,
        confidence=math.exp(sum(logprobs) / len(logprobs)) if logprobs else None,
        token_logprobs=logprobs,
        first_line_tokens=1,
        alternatives=("y",) * len(alternatives_correct),
        alternatives_ms=700.0 if alternatives_correct else 0.0,
        alternatives_correct=alternatives_correct,
        explicit_ms=400.0 if alternatives_correct else 0.0,
    )


def test_auc_is_one_when_every_passing_suggestion_scores_higher() -> None:
    assert auc([(0.9, True), (0.8, True), (0.3, False)]) == 1.0
    assert auc([(0.3, True), (0.9, False)]) == 0.0
    assert auc([(0.5, True), (0.5, False)]) == 0.5
    assert auc([(0.5, True)]) is None, "no failing suggestion to compare with"


def test_the_curve_counts_shown_and_passing_per_threshold() -> None:
    points = {p.threshold: p for p in curve([(0.95, True), (0.55, True), (0.45, False)])}
    assert (points[0.0].shown, points[0.0].passing_shown, points[0.0].passing) == (3, 2, 2)
    assert (points[0.5].shown, points[0.5].passing_shown) == (2, 2)
    assert (points[0.9].shown, points[0.9].passing_shown) == (1, 1)


def test_summaries_differ_where_the_first_line_is_sure_and_the_rest_is_not() -> None:
    sure_start = attempt(True, (math.log(0.99), math.log(0.1)))
    unsure_start = attempt(False, (math.log(0.3), math.log(0.9)))
    by_name = {s.summary: s.auc for s in separations("set", [sure_start, unsure_start])}
    assert by_name["first token"] == 1.0
    assert by_name["minimum"] == 0.0
    assert "product" in by_name


def test_empty_suggestions_are_silence_already_and_not_scored() -> None:
    (product, *_) = separations("set", [attempt(True, (-0.1,)), attempt(False, (-0.1,), "")])
    assert product.curve[0].shown == 1


def test_pass_at_k_counts_a_task_when_any_suggestion_passes() -> None:
    rows = [
        attempt(False, (-0.1,), alternatives_correct=(False, True)),
        attempt(True, (-0.1,), alternatives_correct=(False,)),
    ]
    summary = alternatives_summary("set", rows)
    assert summary is not None
    assert (summary.pass_at_1, summary.pass_at_k) == (0.5, 1.0)
    assert summary.mean_count == pytest.approx(2.5)
    assert summary.median_all_generation_ms == 600.0
    assert summary.median_explicit_ms == 400.0
    assert "| set | 2 | 2.50 | 50.0% | 100.0% |" in "\n".join(render_alternatives([summary]))


def test_the_report_shows_the_auc_of_every_summary_and_the_product_curve() -> None:
    lines = "\n".join(
        render_gating(separations("set", [attempt(True, (-0.1,)), attempt(False, (-2.0,))]))
    )
    assert "| set | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 |" in lines
    assert "≥0.5" in lines
