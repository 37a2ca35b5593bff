"""The pure parts of the latency benchmark (``bench.latency``): trace, statistics, counters
and report; no model, no server, no wall-clock assertions."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from bench.latency.agreement import agreement_report
from bench.latency.baselines import BaselineResult
from bench.latency.cli import parse_args
from bench.latency.replay import Keystroke, counters_from_stats, suggestion_text, wire_settings
from bench.latency.report import (
    agreement_summary,
    baseline_row,
    cache_share,
    markdown_report,
    replay_summary,
)
from bench.latency.states import BenchState, sample_states
from bench.latency.stats import per, percentile, ratio, summarize
from bench.latency.trace import (
    DEFAULT_FILES,
    choose_lines,
    deletion_change,
    document_state,
    evenly_sample,
    is_typable,
    keystroke_change,
    load_corpus,
    typed_line,
)
from bench.lsp_client import status_numbers
from lsp_fim.config import Settings
from lsp_fim.engine import EngineCounters

SAMPLE = """def add(a, b):
    total = a + b
    return total


def main():
    values = [add(n, n + 1) for n in range(10)]
    print(sum(values))
"""


def _apply(text: str, change: dict[str, Any]) -> str:
    """An editor's view of an incremental change (ASCII text: columns are code points)."""
    lines = text.split("\n")

    def offset(position: dict[str, int]) -> int:
        return sum(len(line) + 1 for line in lines[: position["line"]]) + position["character"]

    start, end = offset(change["range"]["start"]), offset(change["range"]["end"])
    return text[:start] + str(change["text"]) + text[end:]


# --- trace ------------------------------------------------------------------------------------


def test_evenly_sample_keeps_order_and_spreads() -> None:
    assert evenly_sample(list(range(10)), 3) == [1, 5, 8]
    assert evenly_sample([1, 2], 5) == [1, 2]
    assert evenly_sample([1, 2], 0) == []


@pytest.mark.parametrize(
    ("line", "typable"),
    [
        ("    values = [add(n, n + 1) for n in range(10)]", True),
        ("values = [add(n, n + 1) for n in range(10)]", False),  # not indented
        ("    # a comment that is long enough to type()", False),
        ("        no predecessors of its own, sadly.", False),  # docstring prose
        ("  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,", False),  # data table
        ("  R(d,e,f,g,h,a,b,c, (i+5)); \\", False),  # macro continuation
        ("    x = 1", False),  # too short
        ("    résumé = compute_résumé(person)", False),  # not ASCII
    ],
)
def test_is_typable(line: str, typable: bool) -> None:
    assert is_typable(line) is typable


def test_choose_lines_is_deterministic_and_typable() -> None:
    text = "\n".join(f"    value_{n} = compute(items[{n}])" for n in range(50))
    chosen = choose_lines(text, 4)
    assert chosen == choose_lines(text, 4)
    assert len(chosen) == 4
    assert all(10 <= typed.line < 45 for typed in chosen)
    assert all(typed.indent == "    " and typed.text.startswith("value_") for typed in chosen)


def test_every_corpus_file_gives_lines() -> None:
    for corpus_file in load_corpus(DEFAULT_FILES):
        assert len(choose_lines(corpus_file.text, 4)) == 4, corpus_file.name
        assert corpus_file.language_id in {"python", "javascript", "typescript", "c"}


def test_document_state_empties_then_restores_the_line() -> None:
    typed = typed_line("    values = [add(n, n + 1) for n in range(10)]", 6)
    emptied, offset = document_state(SAMPLE, typed, 0)
    assert emptied.split("\n")[6] == "    "
    assert emptied[offset - 4 : offset] == "    "
    partial, offset = document_state(SAMPLE, typed, 3)
    assert partial.split("\n")[6] == "    val"
    assert partial[:offset].endswith("    val")
    assert document_state(SAMPLE, typed, len(typed.text))[0] == SAMPLE


def test_document_state_on_the_first_line() -> None:
    typed = typed_line("\tfirst_line = call(x)", 0)
    text = "\tfirst_line = call(x)\nrest\n"
    state, offset = document_state(text, typed, 5)
    assert state == "\tfirst\nrest\n"
    assert offset == 6


def test_changes_replay_to_the_same_states() -> None:
    typed = typed_line("    total = a + b", 1)
    text = _apply(SAMPLE, deletion_change(typed))
    assert text == document_state(SAMPLE, typed, 0)[0]
    for index in range(len(typed.text)):
        text = _apply(text, keystroke_change(typed, index))
        assert text == document_state(SAMPLE, typed, index + 1)[0]
    assert text == SAMPLE


# --- statistics -------------------------------------------------------------------------------


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) is None


def test_summarize_and_ratios() -> None:
    summary = summarize([100.0, 200.0, 600.0])
    assert (summary.count, summary.p50_ms, summary.mean_ms) == (3, 200.0, 300.0)
    assert summarize([]).mean_ms is None
    assert ratio(800.0, 200.0) == 4.0
    assert ratio(800.0, None) is None
    assert per(30, 0) is None
    assert per(30, 4) == 7.5


# --- counters ---------------------------------------------------------------------------------


def test_counters_from_stats_maps_wire_names() -> None:
    stats = {
        "requests": 10,
        "fromCache": 3,
        "cancelled": 2,
        "empty": 1,
        "modelRuns": 7,
        "promptTokens": 7000,
        "promptTokensEvaluated": 900,
        "generatedTokens": 70,
        "backgroundRuns": 4,
        "somethingNewer": 1,
    }
    counters = counters_from_stats(stats)
    assert counters.from_cache == 3
    assert counters.prompt_tokens_evaluated == 900
    assert counters.background_runs == 4


def test_peak_rss_reads_vmhwm() -> None:
    status = "Name:\tpython\nVmPeak:\t 900000 kB\nVmHWM:\t  612345 kB\nVmRSS:\t 600000 kB\n"
    assert status_numbers(status)["VmHWM"] == 612345
    assert "VmHWM" not in status_numbers("Name: x\n")


# --- responses and states ---------------------------------------------------------------------


def test_suggestion_text_of_inline_results() -> None:
    item = {"insertText": "return x", "range": {}}
    assert suggestion_text({"items": [item]}) == "return x"
    assert suggestion_text([item]) == "return x"
    assert suggestion_text({"items": [{"insertText": {"kind": "snippet", "value": "y"}}]}) == "y"
    assert suggestion_text(None) == ""
    assert suggestion_text({"items": []}) == ""


def _stroke(
    sent: float, answered: float | None, superseded: float | None = None, ends_line: bool = False
) -> Any:
    stroke = Keystroke("a.py", "python", 1, 5, "text", 10, sent, ends_line=ends_line)
    stroke.answered_at, stroke.superseded_at = answered, superseded
    stroke.suggestion = "" if answered is None else "x"
    return stroke


def test_only_answered_keystrokes_count() -> None:
    strokes = [_stroke(0.0, 0.5), _stroke(1.0, 3.0, superseded=1.1), _stroke(2.0, None)]
    strokes[0].ends_line = True
    assert strokes[0].answered and strokes[0].latency_ms == 500.0
    assert not strokes[1].answered
    summary = replay_summary(strokes)
    assert (summary["answered"], summary["superseded"], summary["unanswered"]) == (1, 1, 1)
    assert summary["answered_share"] == pytest.approx(1 / 3)
    assert summary["line_end"]["p50_ms"] == 500.0
    assert summary["cancel_to_answer"]["p50_ms"] == pytest.approx(1900.0)
    assert [s.server_latency_ms for s in sample_states(strokes, 5)] == [500.0]


def test_parse_args_quick_trims_the_run() -> None:
    args = parse_args(["--quick"])
    assert args.files == [DEFAULT_FILES[0]]
    assert (args.lines_per_file, args.baseline_states) == (2, 6)
    assert parse_args([]).files == list(DEFAULT_FILES)


# --- report -----------------------------------------------------------------------------------


def _report() -> dict[str, Any]:
    ours = {
        "name": "lsp-fim",
        "latency": {"count": 40, "p50_ms": 350.0, "p95_ms": 900.0, "mean_ms": 420.0},
        "cache_share": 0.25,
        "prompt_tokens_evaluated_per_run": 12.5,
        "generated_tokens_per_run": 9.0,
    }
    naive = BaselineResult("naive", [1800.0, 2200.0], 2000, 600, 40)
    skipped = BaselineResult("llama-server", skipped="no llama-server binary")
    return {
        "date": "2026-11-24 10:00 UTC",
        "rows": [ours, baseline_row(naive, 350.0), baseline_row(skipped, 350.0)],
        "replay": replay_summary([_stroke(0.0, 0.35, ends_line=True)]),
        "first_suggestion_after_open": {
            "file": "graphlib.py",
            "file_tokens": 2074,
            "pause_s": 10.0,
            "latency_ms": 420.0,
            "per_file_ms": [420.0, None],
        },
        "agreement": {"states": 40, "agreed": 38, "share": 0.95},
        "counters": asdict(EngineCounters()),
        "peak_rss_mib": 800.0,
        "model_mib": 468.6,
        "rss_over_model_mib": 331.4,
        "settings": {"maxTokens": 128},
        "trace": {
            "files": ["graphlib.py"],
            "lines": 2,
            "cps": 10.0,
            "pause_s": 2.0,
            "baseline_states": 2,
        },
        "machine": {"cpu_count": 2, "platform": "Linux", "python": "3.11.7"},
    }


def test_baseline_row_ratio_against_ours() -> None:
    row = baseline_row(BaselineResult("naive", [1800.0, 2200.0], 2000, 600, 40), 400.0)
    assert row["latency"]["p50_ms"] == 2000.0
    assert row["ratio_vs_ours"] == 5.0
    assert row["prompt_tokens_evaluated_per_run"] == 300.0


def test_markdown_report_has_every_row_and_the_headline_numbers() -> None:
    report = _report()
    markdown = markdown_report(report)
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert table[1].startswith("| lsp-fim | 350 | 900 | 420 | 40 | 25 % | 12.5 | 9.0 | 1.0x |")
    assert table[2].startswith("| naive | 2,000 | 2,180 | 2,000 | 2 | 0 % | 300.0 | 20.0 | 5.7x |")
    assert "| llama-server | skipped: no llama-server binary |" in table[3]
    assert "**420 ms**" in markdown
    assert "38/40 (95 %)" in markdown
    assert "end of each line, where the user pauses: p50 350 ms" in markdown
    assert "420, - ms" in markdown
    json.dumps(report)  # the same dictionary is written as JSON


def _state(suggestion: str, from_cache: bool | None) -> Any:
    return BenchState("a.py", "python", "text", 1, suggestion, 5.0, from_cache)


def test_agreement_is_split_by_where_the_answer_came_from() -> None:
    states = [_state("x", False), _state("y", False), _state("z", True), _state("w", None)]
    report = agreement_report(states, ["x", "other", "z", "w"])
    assert (report["agreed"], report["states"]) == (3, 4)
    assert (report["model_answers"]["agreed"], report["model_answers"]["states"]) == (1, 2)
    assert (report["cache_answers"]["agreed"], report["cache_answers"]["states"]) == (1, 1)
    assert [d["cold"] for d in report["disagreeing"]] == ["other"]
    assert "3/4 (75 %) exact match; model answers 1/2; cache answers 1/1" in agreement_summary(
        report
    )


def test_cache_share_prefers_per_answer_knowledge() -> None:
    answered = [_stroke(0.0, 0.1), _stroke(1.0, 1.001), _stroke(2.0, 2.001)]
    counters = EngineCounters(from_cache=1)
    assert cache_share(answered, counters) == pytest.approx(1 / 3)
    answered[1].from_cache, answered[2].from_cache = True, True
    answered[0].from_cache = False
    assert cache_share(answered, counters) == pytest.approx(2 / 3)


def test_wire_settings_send_every_setting_that_shapes_a_suggestion() -> None:
    sent = wire_settings(Settings(model="m.gguf", threads=3))
    assert sent == {
        "model": "m.gguf",
        "maxTokens": Settings().max_tokens,
        "maxGenerateMs": Settings().max_generate_ms,
        "prefixTokens": Settings().prefix_tokens,
        "suffixTokens": Settings().suffix_tokens,
        "scopeStop": Settings().scope_stop,
        "threads": 3,
    }
