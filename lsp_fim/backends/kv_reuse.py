"""Which parts of the model's KV cache a new prompt can reuse, decided on token lists alone.

A keystroke changes a few tokens at the cursor, which in a prefix-suffix-middle prompt sits
between the prefix and the suffix. Plain prefix reuse (llama-cpp-python, llama-server) must
then evaluate the whole suffix again. Here the unchanged tail of the prompt is found in the
cache as one run of tokens and moved to its new position (a KV shift), so only the tokens
that changed are evaluated. The moved run was computed after the old text at the cursor,
not the new one, so it is close to, not exactly, what a full evaluation would give; the
backend refreshes it exactly when the editor is idle.

Measured on Qwen2.5-Coder-0.5B (json/decoder.py, 23 cursor states, 5 characters typed since the
cache was exact): moving the whole suffix changed the suggestion in 23 of 23 states, since the
tokens right after the cursor summarise the line being typed; evaluating the run's first 32
tokens again and moving only the rest kept 19 of 23 identical (128 tokens: 20 of 23).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Below this many tokens a KV shift saves less than it risks; evaluate the tokens instead.
MIN_REUSED_RUN = 16
# The first tokens of a moved run attend most to the changed text: they are evaluated again.
EXACT_RUN_HEAD = 32


@dataclass(frozen=True)
class ReusedRun:
    """Cached tokens ``[old_start, old_end)`` reappear in the prompt from ``new_start`` on."""

    old_start: int
    old_end: int
    new_start: int

    @property
    def shift(self) -> int:
        return self.new_start - self.old_start

    @property
    def new_end(self) -> int:
        return self.new_start + self.old_end - self.old_start


@dataclass(frozen=True)
class ReusePlan:
    """Keep cached ``[0, keep)``, evaluate ``prompt[keep:fresh_end]``, then move ``run``.

    The prompt's last token is never taken from the cache: its logits start generation.
    """

    keep: int
    fresh_end: int
    run: ReusedRun | None

    @property
    def fresh_tokens(self) -> int:
        return self.fresh_end - self.keep


def common_prefix_length(cached: Sequence[int], prompt: Sequence[int]) -> int:
    length = 0
    for old, new in zip(cached, prompt, strict=False):
        if old != new:
            break
        length += 1
    return length


def plan_reuse(cached: Sequence[int], prompt: Sequence[int], reuse_runs: bool = True) -> ReusePlan:
    """The cheapest way to get ``prompt[:-1]`` into the cache from ``cached``."""
    end = len(prompt) - 1
    keep = min(common_prefix_length(cached, prompt), end)
    run = _longest_tail_run(cached, prompt, keep, end) if reuse_runs else None
    if run is None:
        return ReusePlan(keep, end, None)
    return ReusePlan(keep, run.new_start, run)


def _longest_tail_run(
    cached: Sequence[int], prompt: Sequence[int], keep: int, end: int
) -> ReusedRun | None:
    """The longest run of ``cached[keep:]`` equal to the prompt's tail ``prompt[..:end]``."""
    if end - keep < MIN_REUSED_RUN + EXACT_RUN_HEAD:
        return None
    last = prompt[end - 1]
    best_length, best_end = 0, 0
    for old_last in range(keep, len(cached)):
        if cached[old_last] != last:
            continue
        length = _match_backwards(cached, prompt, old_last, end - 1, keep)
        if length > best_length:
            best_length, best_end = length, old_last + 1
    reused = best_length - EXACT_RUN_HEAD
    if reused < MIN_REUSED_RUN:
        return None
    return ReusedRun(best_end - reused, best_end, end - reused)


def _match_backwards(
    cached: Sequence[int], prompt: Sequence[int], old_index: int, new_index: int, floor: int
) -> int:
    """How many tokens match going back from both indexes, never below ``floor`` in either."""
    length = 0
    while (
        old_index - length >= floor
        and new_index - length >= floor
        and cached[old_index - length] == prompt[new_index - length]
    ):
        length += 1
    return length
