"""The reliability suite (``bench/reliability.py``) in a bounded form: the real server and the
real model, fuzzed over stdio, then loaded. Zeros are asserted exactly; times with generous
bounds, since CI machines are shared."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from bench.reliability import Figures, Plan, run

pytestmark = pytest.mark.model


def bounded_plan(model_path: Path, phases: str) -> Plan:
    return Plan(
        messages=3000,
        batch=200,
        cycles=1000,
        storm=300,
        model_changes=4,
        seed=7,
        model=str(model_path),
        phases=frozenset(phases.split(",")),
    )


def test_fuzz_cycles_and_storm_leave_no_fault(model_path: Path, tmp_path: Path) -> None:
    figures: Figures = asyncio.run(run(bounded_plan(model_path, "fuzz,cycles,storm"), tmp_path))
    summary = figures.summary()
    assert (figures.crashes, figures.unanswered, figures.drifts) == (0, 0, 0), figures.notes
    assert figures.messages >= 3000
    assert figures.wrong_errors == 0, "params that do not deserialize get InvalidParams"
    assert summary["answer_p99_ms"] < 10_000
    assert figures.threads_after_storm <= figures.threads_before_storm + 2
    assert summary["rss_growth_kib"] < 100 * 1024


def test_pathological_documents_are_answered_without_blocking(
    model_path: Path, tmp_path: Path
) -> None:
    """Answered (within ``ANSWER_BOUND_S``): the long lines with a suggestion from a prompt cut
    to its budget, a cold one of about 500 tokens (seconds on 2 cores)."""
    figures = asyncio.run(run(bounded_plan(model_path, "pathological"), tmp_path))
    assert (figures.crashes, figures.unanswered) == (0, 0), figures.notes
    assert figures.longest_stall_ms < 500


def test_model_changes_and_a_model_file_cut_under_the_server(
    model_path: Path, tmp_path: Path
) -> None:
    """50 model changes (every load's progress ends, the last wins), then the model file the
    server uses is truncated (a mapped model killed the process with SIGBUS) and deleted."""
    plan = bounded_plan(model_path, "faults")
    figures = asyncio.run(run(replace(plan, model_changes=50), tmp_path))
    assert (figures.crashes, figures.unanswered) == (0, 0), figures.notes
    assert figures.progress_unended == 0
