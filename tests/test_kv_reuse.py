"""Which cached tokens a new prompt reuses: pure token lists, no model."""

from __future__ import annotations

from lsp_fim.backends.kv_reuse import EXACT_RUN_HEAD, MIN_REUSED_RUN, ReusePlan, plan_reuse

PREFIX = list(range(1000, 1100))
SUFFIX = list(range(2000, 2100))
FIM_SUFFIX, FIM_MIDDLE = 1, 2


def prompt(typed: list[int], suffix: list[int] = SUFFIX, prefix: list[int] = PREFIX) -> list[int]:
    return [*prefix, *typed, FIM_SUFFIX, *suffix, FIM_MIDDLE]


def test_a_keystroke_evaluates_the_typed_tokens_and_the_suffix_head_only() -> None:
    cached = [*prompt([7]), 555, 556]  # generated tokens follow the cached prompt
    new = prompt([7, 8, 9])
    plan = plan_reuse(cached, new)
    assert plan.keep == len(PREFIX) + 1
    assert len(plan.runs) == 1
    run = plan.runs[0]
    assert plan.fresh_tokens == 2 + EXACT_RUN_HEAD  # the typed tokens, <fim_suffix> + suffix head
    assert run.shift == 2
    assert run.new_end == plan.end == len(new) - 1
    assert cached[run.old_start : run.old_end] == new[run.new_start : -1]
    assert plan.exact_end == run.new_start


def test_a_keystroke_s_last_decode_is_the_head_of_the_suffix_it_moves() -> None:
    """The head a stopped keystroke leaves unevaluated is matched by the tokens moved there."""
    cached = prompt([7])
    new = prompt([7, 8, 9])
    plan = plan_reuse(cached, new)
    run = plan.runs[0]
    assert run.head == EXACT_RUN_HEAD
    assert plan.last_head_start == run.new_start - EXACT_RUN_HEAD == plan.keep + 2
    old_head = cached[run.old_start - run.head : run.old_start]
    assert old_head == new[plan.last_head_start : run.new_start] == [FIM_SUFFIX, *SUFFIX[:7]]
    assert plan.fresh_spans_before(plan.last_head_start) == [(plan.keep, plan.keep + 2)]


def test_a_prompt_ending_in_fresh_tokens_has_no_head_last() -> None:
    grown = plan_reuse(prompt([7]), prompt([7, 8], suffix=[*SUFFIX, 3001, 3002, 3003]))
    assert grown.runs and grown.last_head_start is None
    assert plan_reuse([], prompt([7])).last_head_start is None
    assert plan_reuse(prompt([7]), prompt([7])).last_head_start is None


def test_deleting_moves_the_run_back() -> None:
    plan = plan_reuse(prompt([7, 8, 9]), prompt([7]))
    assert [run.shift for run in plan.runs] == [-2]


def test_a_suffix_window_that_grew_evaluates_its_new_end_too() -> None:
    new = prompt([7, 8], suffix=[*SUFFIX, 3001, 3002, 3003])
    plan = plan_reuse(prompt([7]), new)
    assert plan.fresh_spans[-1] == (len(new) - 4, len(new) - 1)
    assert plan.fresh_tokens == 1 + EXACT_RUN_HEAD + 3


def test_moving_to_a_line_further_down_moves_both_old_prefix_and_old_suffix() -> None:
    """The window start moved too: the old prefix and the old suffix both reappear, in order."""
    old_prefix = list(range(1000, 1200))
    new_prefix = [*old_prefix[60:], *range(2000, 2060)]  # 60 lines typed on, window moved
    old = prompt([], suffix=SUFFIX, prefix=old_prefix)
    new = prompt([], suffix=list(range(2060, 2160)), prefix=new_prefix)
    plan = plan_reuse(old, new)
    assert plan.keep == 0
    # The stretches shared in order: the old prefix's end, the old suffix up to the new cursor,
    # and the old suffix after it (behind the new <fim_suffix>); each loses its head.
    moved = [length - EXACT_RUN_HEAD for length in (140, 60, 40)]
    moved = [length for length in moved if length >= MIN_REUSED_RUN]
    assert [run.old_end - run.old_start for run in plan.runs] == moved
    assert plan.runs[0].shift < 0
    for run in plan.runs:
        assert old[run.old_start : run.old_end] == new[run.new_start : run.new_end]


def test_an_unchanged_prompt_needs_only_its_last_token() -> None:
    same = prompt([7])
    plan = plan_reuse(same, same)
    assert plan == ReusePlan(len(same) - 1, len(same) - 1)
    assert plan.fresh_tokens == 0


def test_without_runs_everything_after_the_common_prefix_is_evaluated() -> None:
    new = prompt([7, 8])
    plan = plan_reuse(prompt([7]), new, reuse_runs=False)
    assert plan == ReusePlan(len(PREFIX) + 1, len(new) - 1)
    assert plan.fresh_spans == [(len(PREFIX) + 1, len(new) - 1)]


def test_a_short_stretch_is_evaluated_not_moved() -> None:
    short = SUFFIX[: MIN_REUSED_RUN + EXACT_RUN_HEAD - 2]
    assert plan_reuse(prompt([], short), prompt([7], short)).runs == ()


def test_the_run_is_found_wherever_it_sits_in_the_cache() -> None:
    """A prefill of the file's head as one prefix holds the suffix right after the cursor."""
    cached = [*PREFIX, *SUFFIX, FIM_SUFFIX, FIM_MIDDLE]
    new = [*PREFIX, FIM_SUFFIX, *SUFFIX, FIM_MIDDLE]
    plan = plan_reuse(cached, new)
    assert plan.keep == len(PREFIX)
    (run,) = plan.runs
    assert run.old_start == len(PREFIX) + EXACT_RUN_HEAD
    assert run.new_start == len(PREFIX) + 1 + EXACT_RUN_HEAD
    assert run.new_end == len(new) - 1


def test_an_empty_cache_evaluates_the_whole_prompt_but_its_last_token() -> None:
    new = prompt([])
    assert plan_reuse([], new) == ReusePlan(0, len(new) - 1)


FIM_PREFIX = 3


def suffix_first(prefix: list[int], suffix: list[int]) -> list[int]:
    return [FIM_PREFIX, FIM_SUFFIX, *suffix, FIM_MIDDLE, *prefix]


def test_a_suffix_first_prompt_reuses_text_the_cursor_moved_over_from_its_old_prefix() -> None:
    """Moving up 30 tokens puts the old prefix's end at the new suffix's start: ahead of the
    old suffix in the prompt, behind it in the cache. Both are moved, out of cache order."""
    prefix, suffix = list(range(1000, 1100)), list(range(2000, 2100))
    cached = suffix_first(prefix, suffix)
    new = suffix_first(prefix[:-30], [*prefix[-30:], *suffix])
    plan = plan_reuse(cached, new)
    assert plan.keep == 2
    moved_over, rest = plan.runs
    assert moved_over.old_start > rest.old_start
    assert plan.fresh_tokens == 2 * EXACT_RUN_HEAD
    for run in plan.runs:
        assert cached[run.old_start : run.old_end] == new[run.new_start : run.new_end]


def test_cached_tokens_serve_one_run_only() -> None:
    """A stretch the prompt holds twice and the cache once is moved to one place only."""
    twice = list(range(5000, 5040))
    cached = [FIM_PREFIX, *twice, FIM_MIDDLE]
    new = [FIM_PREFIX, FIM_SUFFIX, *twice, *twice, FIM_MIDDLE]
    (run,) = plan_reuse(cached, new).runs
    assert run.new_start == 2 + EXACT_RUN_HEAD
