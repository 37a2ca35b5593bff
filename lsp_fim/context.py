"""The prefix and suffix windows around the cursor, budgeted in model tokens.

Windows are cut at line boundaries so the model never sees half a line at the edges; the
cursor's own line is always whole on both sides, whatever the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class ContextWindow:
    """``prefix`` ends and ``suffix`` starts at the cursor; both are slices of the document."""

    prefix: str
    suffix: str
    prefix_tokens: int
    suffix_tokens: int


def _take_lines(lines: list[str], budget: int, count_tokens: TokenCounter) -> tuple[int, int]:
    """How many of ``lines`` (in order) fit in ``budget`` tokens, and the tokens they use."""
    used = 0
    for taken, line in enumerate(lines):
        cost = count_tokens(line)
        if used + cost > budget:
            return taken, used
        used += cost
    return len(lines), used


def build_window(
    text: str, offset: int, prefix_budget: int, suffix_budget: int, count_tokens: TokenCounter
) -> ContextWindow:
    """The prefix and suffix around ``offset`` that fit the budgets."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end == -1 else line_end + 1

    cursor_head = text[line_start:offset]
    cursor_tail = text[offset:line_end]
    head_tokens = count_tokens(cursor_head)
    tail_tokens = count_tokens(cursor_tail)

    before = text[:line_start].splitlines(keepends=True)
    kept_before, before_tokens = _take_lines(
        before[::-1], max(prefix_budget - head_tokens, 0), count_tokens
    )
    after = text[line_end:].splitlines(keepends=True)
    kept_after, after_tokens = _take_lines(after, max(suffix_budget - tail_tokens, 0), count_tokens)

    prefix = "".join(before[len(before) - kept_before :]) + cursor_head
    suffix = cursor_tail + "".join(after[:kept_after])
    return ContextWindow(prefix, suffix, before_tokens + head_tokens, after_tokens + tail_tokens)
