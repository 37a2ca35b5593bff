"""What staying silent and offering alternatives would do, per set: precision/recall of each
confidence summary, and pass@k over the alternatives an explicit request gets.

Measured on the scope mode's attempts (the product's stop rule) with ``minConfidence`` 0, so
that every suggestion is scored and any threshold can be applied afterwards.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.quality.running import Attempt
from lsp_fim.backends.base import TokenChoice
from lsp_fim.confidence import confidence

Summary = Callable[[Attempt], float | None]


def _mean(attempt: Attempt) -> float | None:
    logprobs = attempt.token_logprobs
    return math.exp(statistics.fmean(logprobs)) if logprobs else None


def _minimum(attempt: Attempt) -> float | None:
    return math.exp(min(attempt.token_logprobs)) if attempt.token_logprobs else None


def _first_line(attempt: Attempt) -> float | None:
    logprobs = attempt.token_logprobs[: max(1, attempt.first_line_tokens)]
    return math.exp(statistics.fmean(logprobs)) if logprobs else None


def _first_token(attempt: Attempt) -> float | None:
    return math.exp(attempt.token_logprobs[0]) if attempt.token_logprobs else None


def _product(attempt: Attempt) -> float | None:
    """``lsp_fim.confidence`` of the kept tokens (recomputed, so that a saved run can be
    read again under another summary)."""
    return confidence([TokenChoice(0, logprob) for logprob in attempt.token_logprobs])


SUMMARIES: dict[str, Summary] = {
    "product": _product,
    "geometric mean": _mean,
    "minimum": _minimum,
    "first-line mean": _first_line,
    "first token": _first_token,
}
# The product's values spread over orders of magnitude (a probability of a whole suggestion).
THRESHOLDS = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


@dataclass(frozen=True)
class CurvePoint:
    """At ``threshold``: suggestions shown, the passing ones among them, and the passing ones
    of all (precision = passing_shown / shown, recall = passing_shown / passing)."""

    threshold: float
    shown: int
    passing_shown: int
    passing: int


@dataclass(frozen=True)
class Separation:
    """How well a summary tells passing from failing suggestions: the probability that a
    random passing one scores above a random failing one (ROC AUC; 0.5 is chance)."""

    dataset: str
    summary: str
    auc: float | None
    curve: tuple[CurvePoint, ...]


def _scored(attempts: Sequence[Attempt], summary: Summary) -> list[tuple[float, bool]]:
    """(score, passes) of the suggestions shown at all: an empty one is silence already."""
    pairs = []
    for attempt in attempts:
        value = summary(attempt) if attempt.text else None
        if value is not None:
            pairs.append((value, attempt.correct))
    return pairs


def auc(pairs: Sequence[tuple[float, bool]]) -> float | None:
    passing = [score for score, correct in pairs if correct]
    failing = [score for score, correct in pairs if not correct]
    if not passing or not failing:
        return None
    wins = sum((p > f) + 0.5 * (p == f) for p in passing for f in failing)
    return wins / (len(passing) * len(failing))


def curve(pairs: Sequence[tuple[float, bool]]) -> tuple[CurvePoint, ...]:
    passing = sum(correct for _, correct in pairs)
    return tuple(
        CurvePoint(
            threshold,
            sum(score >= threshold for score, _ in pairs),
            sum(score >= threshold and correct for score, correct in pairs),
            passing,
        )
        for threshold in THRESHOLDS
    )


def separations(dataset: str, attempts: Sequence[Attempt]) -> list[Separation]:
    scope = [attempt for attempt in attempts if attempt.mode == "scope"]
    found = []
    for name, summary in SUMMARIES.items():
        pairs = _scored(scope, summary)
        if pairs:
            found.append(Separation(dataset, name, auc(pairs), curve(pairs)))
    return found


@dataclass(frozen=True)
class AlternativesSummary:
    """pass@1 and pass@k (any of the suggestions passes), and the time of all of them against
    the time of the first (medians per task), also without the prompt's evaluation, which a
    cold start adds to the first and an editor's warm cache mostly saves; and the time of the
    explicit request made after the automatic one (its first suggestion remembered)."""

    dataset: str
    tasks: int
    mean_count: float
    pass_at_1: float
    pass_at_k: float
    median_first_ms: float
    median_all_ms: float
    median_first_generation_ms: float
    median_all_generation_ms: float
    median_explicit_ms: float


def alternatives_summary(dataset: str, attempts: Sequence[Attempt]) -> AlternativesSummary | None:
    rows = [attempt for attempt in attempts if attempt.mode == "scope" and attempt.alternatives_ms]
    if not rows:
        return None
    return AlternativesSummary(
        dataset,
        len(rows),
        statistics.fmean(1 + len(row.alternatives) for row in rows),
        sum(row.correct for row in rows) / len(rows),
        sum(row.correct or any(row.alternatives_correct) for row in rows) / len(rows),
        statistics.median(row.wall_ms for row in rows),
        statistics.median(row.alternatives_ms for row in rows),
        statistics.median(row.wall_ms - row.prompt_ms for row in rows),
        statistics.median(row.alternatives_ms - row.prompt_ms for row in rows),
        statistics.median(row.explicit_ms for row in rows),
    )


def _ratio(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def render_gating(separations_: Sequence[Separation]) -> list[str]:
    """AUC per summary and set, then the product summary's precision/recall per threshold."""
    if not separations_:
        return []
    lines = [
        "",
        "### Confidence (scope mode): ROC AUC of each summary (0.5 = chance)",
        "",
        "| set | " + " | ".join(SUMMARIES) + " |",
        "|---|" + "---:|" * len(SUMMARIES),
    ]
    for dataset in dict.fromkeys(s.dataset for s in separations_):
        by_name = {s.summary: s.auc for s in separations_ if s.dataset == dataset}
        cells = ["n/a" if by_name.get(n) is None else f"{by_name[n]:.2f}" for n in SUMMARIES]
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Product confidence: shown / precision (pass rate among shown) / recall (passing "
        "still shown)",
        "",
        "| set | " + " | ".join(f"≥{t:g}" for t in THRESHOLDS) + " |",
        "|---|" + "---:|" * len(THRESHOLDS),
    ]
    for separation in separations_:
        if separation.summary == "product":
            cells = [
                f"{p.shown} / {_ratio(p.passing_shown, p.shown)} / "
                f"{_ratio(p.passing_shown, p.passing)}"
                for p in separation.curve
            ]
            lines.append(f"| {separation.dataset} | " + " | ".join(cells) + " |")
    return lines


def render_alternatives(summaries: Sequence[AlternativesSummary]) -> list[str]:
    if not summaries:
        return []
    return [
        "",
        "### Alternatives (explicit request, scope mode)",
        "",
        "| set | tasks | suggestions per task | pass@1 | pass@k | median ms first / all "
        "| without the prompt | explicit request after the automatic one |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {s.dataset} | {s.tasks} | {s.mean_count:.2f} | {100 * s.pass_at_1:.1f}% | "
            f"{100 * s.pass_at_k:.1f}% | {s.median_first_ms:,.0f} / {s.median_all_ms:,.0f} | "
            f"{s.median_first_generation_ms:,.0f} / {s.median_all_generation_ms:,.0f} | "
            f"{s.median_explicit_ms:,.0f} |"
            for s in summaries
        ),
    ]


def report_from(saved: dict[str, Any]) -> str:
    """The confidence and alternatives sections of a saved run (``quality.json``), computed
    again with today's summaries."""
    attempts = {
        dataset: [Attempt(**row) for row in rows] for dataset, rows in saved["attempts"].items()
    }
    gating = [found for d, rows in attempts.items() for found in separations(d, rows)]
    choices = [alternatives_summary(d, rows) for d, rows in attempts.items()]
    alternatives = [summary for summary in choices if summary is not None]
    return "\n".join([*render_gating(gating), *render_alternatives(alternatives), ""])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.quality.gating OUT/quality.json``."""
    parser = argparse.ArgumentParser(prog="python -m bench.quality.gating", description=__doc__)
    parser.add_argument("saved", type=Path, help="quality.json of a harness run")
    args = parser.parse_args(argv)
    print(report_from(json.loads(args.saved.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
