"""Summaries per set and mode, costs against ``raw``, and the Markdown table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.quality.running import Attempt


@dataclass(frozen=True)
class Summary:
    """One row of the report: a set in one mode."""

    dataset: str
    mode: str
    metric: str
    tasks: int
    score: float
    mean_tokens: float
    mean_seconds: float
    parse_eligible: int
    parses: int


@dataclass(frozen=True)
class Ratio:
    """A mode's cost against ``raw`` on the same tasks, in percent."""

    dataset: str
    mode: str
    tokens_percent: float | None  # None: raw generated nothing to compare with
    time_percent: float | None


def _charged_ms(attempts: Sequence[Attempt]) -> dict[tuple[str, str], float]:
    """Each attempt's time with its task's prompt processing counted once, whatever the order."""
    prompt_ms: dict[str, float] = {}
    for attempt in attempts:
        prompt_ms[attempt.task_id] = max(prompt_ms.get(attempt.task_id, 0.0), attempt.prompt_ms)
    return {
        (attempt.task_id, attempt.mode): attempt.wall_ms
        - attempt.prompt_ms
        + prompt_ms[attempt.task_id]
        for attempt in attempts
    }


def summarize(dataset: str, metric: str, attempts: Sequence[Attempt]) -> list[Summary]:
    charged = _charged_ms(attempts)
    modes = list(dict.fromkeys(attempt.mode for attempt in attempts))
    summaries = []
    for mode in modes:
        rows = [attempt for attempt in attempts if attempt.mode == mode]
        eligible = [row for row in rows if row.parses is not None]
        summaries.append(
            Summary(
                dataset,
                mode,
                metric,
                len(rows),
                sum(row.correct for row in rows) / len(rows),
                sum(row.generated_tokens for row in rows) / len(rows),
                sum(charged[row.task_id, mode] for row in rows) / len(rows) / 1000,
                len(eligible),
                sum(bool(row.parses) for row in eligible),
            )
        )
    return summaries


def _task_weighted(
    summaries: Sequence[Summary], mode: str, value: Callable[[Summary], float]
) -> float:
    return sum(value(summary) * summary.tasks for summary in summaries if summary.mode == mode)


def _ratio(dataset: str, mode: str, summaries: Sequence[Summary]) -> Ratio:
    def percent_of_raw(value: Callable[[Summary], float]) -> float | None:
        raw = _task_weighted(summaries, "raw", value)
        return 100 * _task_weighted(summaries, mode, value) / raw if raw else None

    return Ratio(
        dataset,
        mode,
        percent_of_raw(lambda summary: summary.mean_tokens),
        percent_of_raw(lambda summary: summary.mean_seconds),
    )


def ratios_to_raw(summaries: Sequence[Summary]) -> list[Ratio]:
    """Per set and over all sets (task-weighted): each other mode's tokens and time vs raw."""
    if not any(summary.mode == "raw" for summary in summaries):
        return []
    modes = list(dict.fromkeys(s.mode for s in summaries if s.mode != "raw"))
    datasets = list(dict.fromkeys(summary.dataset for summary in summaries))
    ratios = [
        _ratio(dataset, mode, [s for s in summaries if s.dataset == dataset])
        for dataset in datasets
        for mode in modes
    ]
    return ratios + [_ratio("all", mode, summaries) for mode in modes]


def _percent(part: float) -> str:
    return f"{100 * part:.1f}%"


def _whole_percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def _summary_row(summary: Summary) -> str:
    parse = (
        f"{_percent(summary.parses / summary.parse_eligible)} "
        f"({summary.parses}/{summary.parse_eligible})"
        if summary.parse_eligible
        else "n/a"
    )
    return (
        f"| {summary.dataset} | {summary.mode} | {summary.tasks} | "
        f"{summary.metric} {_percent(summary.score)} | {summary.mean_tokens:.1f} | "
        f"{summary.mean_seconds:.2f} | {parse} |"
    )


def render_markdown(title: str, summaries: Sequence[Summary], ratios: Sequence[Ratio]) -> str:
    lines = [
        f"## {title}",
        "",
        "| set | mode | tasks | score | mean tokens | mean time (s) | still parses |",
        "|---|---|---:|---:|---:|---:|---:|",
        *(_summary_row(summary) for summary in summaries),
    ]
    if ratios:
        lines += [
            "",
            "| set | mode | tokens, % of raw | time, % of raw |",
            "|---|---|---:|---:|",
            *(
                f"| {r.dataset} | {r.mode} | {_whole_percent(r.tokens_percent)} | "
                f"{_whole_percent(r.time_percent)} |"
                for r in ratios
            ),
        ]
    lines += [
        "",
        "score: pass@1 (tests executed) or exact match of the first line. mean time: per task, "
        "prompt processing included once. still parses: share of tasks whose file still parses "
        "(tree-sitter) with the suggestion, among those where it parses with the reference.",
    ]
    return "\n".join(lines) + "\n"
