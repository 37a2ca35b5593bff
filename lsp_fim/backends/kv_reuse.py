"""Which parts of the model's KV cache a new prompt can reuse, decided on token lists alone.

A keystroke changes a few tokens at the cursor, which in a prefix-suffix-middle prompt sits
between the prefix and the suffix. Plain prefix reuse (llama-cpp-python, llama-server) must
then evaluate the whole suffix again. Here the longest unchanged stretch of the rest of the
prompt (usually the suffix) is found in the cache as one run of tokens and moved to its new
position (a KV shift), so only the tokens that changed are evaluated: those before the run
and, when the suffix window's end moved, those after it. The moved run was computed after the
old text at the cursor, not the new one, so it is close to, not exactly, what a full
evaluation would give; the backend refreshes it exactly when the editor is idle.

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
# Runs are found through shared token n-grams of this length.
_SEED = 8
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
    """Keep cached ``[0, keep)``, move ``run`` into place, evaluate every other prompt token
    up to ``end`` (the prompt's last token, whose logits start generation, is left out)."""

    keep: int
    end: int
    run: ReusedRun | None = None

    @property
    def fresh_before(self) -> tuple[int, int]:
        """Prompt positions evaluated before the run's (all of them without a run)."""
        return (self.keep, self.run.new_start if self.run else self.end)

    @property
    def fresh_after(self) -> tuple[int, int]:
        return (self.run.new_end, self.end) if self.run else (self.end, self.end)

    @property
    def fresh_tokens(self) -> int:
        return sum(stop - start for start, stop in (self.fresh_before, self.fresh_after))


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
    run = _longest_shared_run(cached, prompt, keep, end) if reuse_runs else None
    return ReusePlan(keep, end, run)


def _longest_shared_run(
    cached: Sequence[int], prompt: Sequence[int], keep: int, end: int
) -> ReusedRun | None:
    """The longest stretch of ``prompt[keep:end]`` found in ``cached[keep:]``, less its head."""
    if end - keep < MIN_REUSED_RUN + EXACT_RUN_HEAD:
        return None
    seeds: dict[tuple[int, ...], int] = {}
    for position in range(keep, len(cached) - _SEED + 1):
        seeds.setdefault(tuple(cached[position : position + _SEED]), position)
    best = ReusedRun(0, 0, 0)
    new = keep
    while new <= end - _SEED:
        old = seeds.get(tuple(prompt[new : new + _SEED]))
        if old is None:
            new += 1
            continue
        length = _match_forward(cached, prompt, old, new, end)
        if length > best.old_end - best.old_start:
            best = ReusedRun(old, old + length, new)
        new += length
    reused = best.old_end - best.old_start - EXACT_RUN_HEAD
    if reused < MIN_REUSED_RUN:
        return None
    return ReusedRun(best.old_end - reused, best.old_end, best.new_end - reused)


def _match_forward(
    cached: Sequence[int], prompt: Sequence[int], old: int, new: int, end: int
) -> int:
    """How many tokens match from ``cached[old]`` and ``prompt[new]`` on, up to ``end``."""
    length = 0
    while new + length < end and old + length < len(cached):
        if cached[old + length] != prompt[new + length]:
            break
        length += 1
    return length
