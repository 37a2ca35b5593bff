"""Which parts of the model's KV cache a new prompt can reuse, decided on token lists alone.

A keystroke changes a few tokens at the cursor, which in a prefix-suffix-middle prompt sits
between the prefix and the suffix. Plain prefix reuse (llama-cpp-python, llama-server) must
then evaluate the whole suffix again. Here the unchanged stretches of the rest of the prompt
(the suffix after a keystroke; after a move to another line, also the old prefix and suffix)
are found in the cache as runs of tokens and moved to their new positions (KV shifts), so
only the tokens that changed are evaluated. Runs are taken from wherever they lie in the
cache: in a suffix-first prompt a move to another line puts text of the old prefix into the
new suffix, ahead of the rest of the prefix. A moved run was computed after the old text at
the cursor, not the new one, so it is close to, not exactly, what a full evaluation would
give; the backend refreshes it exactly when the editor is idle.

Measured on Qwen2.5-Coder-0.5B (5 characters typed since the cache was exact; suggestions
identical to a cold evaluation's). json/decoder.py, 23 cursor states: moving the whole suffix,
0 of 23, since the tokens right after the cursor summarise the line being typed; evaluating the
run's first 8, 16 or 32 tokens again and moving only the rest, 22, 22 and 21 of 23. The 4
files of the latency replay, 24 states, 24-token suggestions: first 4, 8 or 16 tokens again,
17, 20 and 20 of 24. Each of those tokens costs a keystroke about 7 ms on 2 cores, so 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Below this many tokens a KV shift saves less than it risks; evaluate the tokens instead.
MIN_REUSED_RUN = 16
# Runs are found through shared token n-grams of this length, each looked for in at most
# this many places of the cache (code repeats itself: blank lines, closing brackets).
_SEED = 8
_SEED_PLACES = 16
# The first tokens of a moved run attend most to the changed text: they are evaluated again.
EXACT_RUN_HEAD = 8


@dataclass(frozen=True)
class ReusedRun:
    """Cached tokens ``[old_start, old_end)`` reappear in the prompt from ``new_start`` on.

    The ``head`` tokens right before them reappear too, but are evaluated again (they attend
    most to the changed text): their old cells move along and stand in for them until the
    new ones are there, so that a request stopped before it evaluated them leaves a whole,
    if approximate, cache behind.
    """

    old_start: int
    old_end: int
    new_start: int
    head: int = 0

    @property
    def shift(self) -> int:
        return self.new_start - self.old_start

    @property
    def new_end(self) -> int:
        return self.new_start + self.old_end - self.old_start


@dataclass(frozen=True)
class ReusePlan:
    """Keep cached ``[0, keep)``, move each of ``runs`` into place, evaluate every other prompt
    token up to ``end`` (the prompt's last token, whose logits start generation, is left out).

    Runs are in prompt order; in the cache they may lie in any order, and never overlap.
    """

    keep: int
    end: int
    runs: tuple[ReusedRun, ...] = ()

    @property
    def fresh_spans(self) -> list[tuple[int, int]]:
        """The prompt positions ``[start, stop)`` evaluated anew, in order."""
        spans, start = [], self.keep
        for run in self.runs:
            spans.append((start, run.new_start))
            start = run.new_end
        spans.append((start, self.end))
        return [(start, stop) for start, stop in spans if stop > start]

    @property
    def fresh_tokens(self) -> int:
        return sum(stop - start for start, stop in self.fresh_spans)

    @property
    def exact_end(self) -> int:
        """Where the first moved run starts: what follows it is close, not exact."""
        return self.runs[0].new_start if self.runs else self.end

    @property
    def last_head_start(self) -> int | None:
        """Where the head of the run that the last fresh span leads into starts; None when
        the last fresh span leads into no run (nothing follows it, or it ends the prompt)."""
        spans = self.fresh_spans
        if not spans:
            return None
        last_stop = spans[-1][1]
        run = next((run for run in self.runs if run.new_start == last_stop), None)
        if run is None or not run.head:
            return None
        return last_stop - run.head

    def fresh_spans_before(self, reached: int) -> list[tuple[int, int]]:
        """The fresh spans, or their parts, that lie before prompt position ``reached``."""
        return [(start, min(stop, reached)) for start, stop in self.fresh_spans if start < reached]


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
    runs = _shared_runs(cached, prompt, keep, end) if reuse_runs else ()
    return ReusePlan(keep, end, runs)


def _shared_runs(
    cached: Sequence[int], prompt: Sequence[int], keep: int, end: int
) -> tuple[ReusedRun, ...]:
    """Stretches of ``prompt[keep:end]`` found in ``cached[keep:]``, each less its head, in
    prompt order; each cached token serves one run at most."""
    seeds: dict[tuple[int, ...], list[int]] = {}
    for position in range(keep, len(cached) - _SEED + 1):
        places = seeds.setdefault(tuple(cached[position : position + _SEED]), [])
        if len(places) < _SEED_PLACES:
            places.append(position)
    runs: list[ReusedRun] = []
    taken: list[tuple[int, int]] = []
    new = keep
    while new <= end - _SEED:
        found = _longest_free_match(
            cached, prompt, seeds.get(tuple(prompt[new : new + _SEED]), []), new, end, taken
        )
        if found is None:
            new += 1
            continue
        old, length = found
        if length - EXACT_RUN_HEAD >= MIN_REUSED_RUN:
            taken.append((old, old + length))
            start, new_start = old + EXACT_RUN_HEAD, new + EXACT_RUN_HEAD
            runs.append(ReusedRun(start, old + length, new_start, head=EXACT_RUN_HEAD))
        new += length
    return tuple(runs)


def _longest_free_match(
    cached: Sequence[int],
    prompt: Sequence[int],
    candidates: Sequence[int],
    new: int,
    end: int,
    taken: Sequence[tuple[int, int]],
) -> tuple[int, int] | None:
    """The cached position and length of the longest match for ``prompt[new:]`` among
    ``candidates`` that uses no ``taken`` token (the first of equals); None if there is none."""
    best: tuple[int, int] | None = None
    for old in candidates:
        if any(start <= old < stop for start, stop in taken):
            continue
        free_end = min((start for start, _ in taken if start > old), default=len(cached))
        length = _match_forward(cached, prompt, old, new, min(end, new + free_end - old))
        if length >= _SEED and (best is None or length > best[1]):
            best = (old, length)
    return best


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
