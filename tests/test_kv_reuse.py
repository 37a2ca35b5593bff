"""Which cached tokens a new prompt reuses: pure token lists, no model."""

from __future__ import annotations

from lsp_fim.backends.kv_reuse import (
    EXACT_RUN_HEAD,
    MIN_REUSED_RUN,
    ReusedRun,
    ReusePlan,
    plan_reuse,
)

PREFIX = list(range(1000, 1100))
SUFFIX = list(range(2000, 2100))
FIM_SUFFIX, FIM_MIDDLE = 1, 2


def prompt(typed: list[int]) -> list[int]:
    return [*PREFIX, *typed, FIM_SUFFIX, *SUFFIX, FIM_MIDDLE]


def test_a_keystroke_evaluates_the_typed_tokens_and_the_suffix_head_only() -> None:
    cached = [*prompt([7]), 555, 556]  # generated tokens follow the cached prompt
    new = prompt([7, 8, 9])
    plan = plan_reuse(cached, new)
    assert plan.keep == len(PREFIX) + 1
    assert plan.run is not None
    assert plan.fresh_tokens == 2 + EXACT_RUN_HEAD
    assert plan.run.shift == 2
    assert plan.run.new_end == len(new) - 1
    assert cached[plan.run.old_start : plan.run.old_end] == new[plan.run.new_start : -1]


def test_deleting_moves_the_run_back() -> None:
    plan = plan_reuse(prompt([7, 8, 9]), prompt([7]))
    assert plan.run is not None and plan.run.shift == -2


def test_an_unchanged_prompt_needs_only_its_last_token() -> None:
    same = prompt([7])
    assert plan_reuse(same, same) == ReusePlan(len(same) - 1, len(same) - 1, None)


def test_without_runs_everything_after_the_common_prefix_is_evaluated() -> None:
    new = prompt([7, 8])
    plan = plan_reuse(prompt([7]), new, reuse_runs=False)
    assert plan == ReusePlan(len(PREFIX) + 1, len(new) - 1, None)


def test_a_short_tail_is_evaluated_not_moved() -> None:
    short_suffix = MIN_REUSED_RUN + EXACT_RUN_HEAD - 2
    old = [*PREFIX, FIM_SUFFIX, *SUFFIX[:short_suffix], FIM_MIDDLE]
    new = [*PREFIX, 7, FIM_SUFFIX, *SUFFIX[:short_suffix], FIM_MIDDLE]
    assert plan_reuse(old, new).run is None


def test_the_run_is_found_wherever_it_sits_in_the_cache() -> None:
    """A prefill of the whole file as prefix holds the suffix right after the cursor."""
    cached = [*PREFIX, *SUFFIX, FIM_SUFFIX, FIM_MIDDLE]
    new = [*PREFIX, FIM_SUFFIX, *SUFFIX, FIM_MIDDLE]
    plan = plan_reuse(cached, new)
    assert plan.keep == len(PREFIX)
    suffix_start = len(PREFIX) + 1
    assert plan.run == ReusedRun(
        len(PREFIX) + EXACT_RUN_HEAD, len(PREFIX) + len(SUFFIX), suffix_start + EXACT_RUN_HEAD
    )
    assert plan.fresh_end == suffix_start + EXACT_RUN_HEAD


def test_an_empty_cache_evaluates_the_whole_prompt_but_its_last_token() -> None:
    new = prompt([])
    assert plan_reuse([], new) == ReusePlan(0, len(new) - 1, None)
