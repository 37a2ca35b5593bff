"""The prefix and suffix windows around the cursor, budgeted in model tokens.

Windows are cut at line boundaries so the model never sees half a line at the edges; the
cursor's own line is whole on both sides, whatever the budget, unless it is longer than any
budget could hold (minified code, a 2-million-character line): then only its part nearest the
cursor is kept, so that the prompt and the work on it stay bounded.

Edges can move in steps of whole lines: the prefix's first line is a multiple of the step
counted from the start of the document, and the suffix's last line a multiple counted from
its end. An edit then leaves the other edge where it was, so the prompt's unchanged parts
stay token for token what the model's cache holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lsp_fim.prompt import ContextFile
from lsp_fim.related_files import RelatedDocument

TokenCounter = Callable[[str], int]

# Each related file gives at most this many tokens, so that several files fit the budget; a
# share smaller than the floor is too little code to be worth its header.
RELATED_FILE_TOKENS = 256
RELATED_FILE_MIN_TOKENS = 64
# More characters a token than any tokenizer reaches on code: a cursor line within this many
# characters per token of its budget (or of the floor) is never cut.
LONG_LINE_CHARS_PER_TOKEN = 8
LONG_LINE_MIN_TOKENS = 64
# A line cut around the cursor gives at most this many tokens a side: a cold prompt costs
# about 6 ms a token on 2 cores, and minified code far from the cursor is little help (a
# 1,282-token cut of a 2-million-character line took 7.5-8.4 s to a suggestion).
LONG_LINE_WINDOW_TOKENS = 256


@dataclass(frozen=True)
class ContextWindow:
    """``prefix`` ends and ``suffix`` starts at the cursor; both are slices of the document."""

    prefix: str
    suffix: str
    prefix_tokens: int
    suffix_tokens: int
    # The cursor's line was too long for the budget and is cut around the cursor.
    line_cut: bool = False


def _fitting_costs(lines: list[str], budget: int, count_tokens: TokenCounter) -> list[int]:
    """The token costs of the leading ``lines`` that fit in ``budget`` together; a line too
    long to fit any budget is not even counted (tokenizing megabytes costs seconds)."""
    costs: list[int] = []
    used = 0
    for line in lines:
        if len(line) > _long_line_chars(budget):
            break
        cost = count_tokens(line)
        if used + cost > budget:
            break
        costs.append(cost)
        used += cost
    return costs


def _on_step(kept: int, available: int, step: int) -> int:
    """Fewer kept lines, so that the ``available - kept`` left out is a multiple of ``step``."""
    left_out = available - kept
    return available - min(-(-left_out // step) * step, available)


def build_window(
    text: str,
    offset: int,
    prefix_budget: int,
    suffix_budget: int,
    count_tokens: TokenCounter,
    edge_step: tuple[int, int] = (1, 1),
) -> ContextWindow:
    """The prefix and suffix around ``offset`` that fit the budgets, edges on ``edge_step``
    (prefix lines, suffix lines)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end == -1 else line_end + 1
    head_start = max(line_start, offset - _long_line_chars(prefix_budget))
    tail_end = min(line_end, offset + _long_line_chars(suffix_budget))
    if head_start > line_start or tail_end < line_end:  # the line alone is over budget
        head, head_tokens = _near_cursor(
            text[head_start:offset],
            min(prefix_budget, LONG_LINE_WINDOW_TOKENS),
            count_tokens,
            before_cursor=True,
        )
        tail, tail_tokens = _near_cursor(
            text[offset:tail_end],
            min(suffix_budget, LONG_LINE_WINDOW_TOKENS),
            count_tokens,
            before_cursor=False,
        )
        return ContextWindow(head, tail, head_tokens, tail_tokens, line_cut=True)

    cursor_head = text[line_start:offset]
    cursor_tail = text[offset:line_end]
    head_tokens = count_tokens(cursor_head)
    tail_tokens = count_tokens(cursor_tail)

    before = text[:line_start].splitlines(keepends=True)
    before_costs = _fitting_costs(before[::-1], max(prefix_budget - head_tokens, 0), count_tokens)
    kept_before = _on_step(len(before_costs), len(before), edge_step[0])
    before_tokens = sum(before_costs[:kept_before])
    after = text[line_end:].splitlines(keepends=True)
    after_costs = _fitting_costs(after, max(suffix_budget - tail_tokens, 0), count_tokens)
    kept_after = _on_step(len(after_costs), len(after), edge_step[1])
    after_tokens = sum(after_costs[:kept_after])

    prefix = "".join(before[len(before) - kept_before :]) + cursor_head
    suffix = cursor_tail + "".join(after[:kept_after])
    return ContextWindow(prefix, suffix, before_tokens + head_tokens, after_tokens + tail_tokens)


def _near_cursor(
    part: str, budget: int, count_tokens: TokenCounter, *, before_cursor: bool
) -> tuple[str, int]:
    """The end (``part`` lies before the cursor) or start of a cut cursor line's ``part``
    that fits ``budget`` tokens, and its tokens. The character bound alone let dense code through: a
    minified line at 2 characters a token made a prompt of 10,242 tokens, over the 4,096 of
    the context, and no suggestion at all."""
    tokens = count_tokens(part)
    while tokens > budget:
        keep = len(part) * budget // tokens  # fewer characters each time: budget < tokens
        part = part[len(part) - keep :] if before_cursor else part[:keep]
        tokens = count_tokens(part)
    return part, tokens


def _long_line_chars(budget: int) -> int:
    return max(budget, LONG_LINE_MIN_TOKENS) * LONG_LINE_CHARS_PER_TOKEN


def first_lines_within(text: str, budget: int, count_tokens: TokenCounter) -> str:
    """The document's leading whole lines that fit in ``budget`` tokens."""
    lines = text.splitlines(keepends=True)
    return "".join(lines[: len(_fitting_costs(lines, budget, count_tokens))])


def related_snippets(
    documents: Sequence[RelatedDocument],
    budget: int,
    count_tokens: TokenCounter,
) -> tuple[ContextFile, ...]:
    """The lines around where the user last worked in each document, newest first, until
    ``budget`` tokens are used. A snippet stays the same text while the user works in
    another file, so it stays in the model's cache."""
    snippets: list[ContextFile] = []
    for document in documents:
        share = min(budget, RELATED_FILE_TOKENS)
        if share < RELATED_FILE_MIN_TOKENS:
            break
        window = build_window(document.text, document.offset, share // 2, share // 2, count_tokens)
        text, cost = window.prefix + window.suffix, window.prefix_tokens + window.suffix_tokens
        # A piece cut out of a long line (minified code) is no context worth its tokens; a
        # line kept whole may still be over the share.
        if text.strip() and not window.line_cut and cost <= share:
            snippets.append(ContextFile(document.name, text))
            budget -= cost
    return tuple(snippets)
