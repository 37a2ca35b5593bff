"""Where a suggestion branches into alternatives, and which of them are worth showing.

An explicit request may get several suggestions. The model's runners-up at the tokens it was
least sure of start the likeliest different ones; each goes on greedily from there, so the
text before the branch (and the whole prompt) is already in the model's cache.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsp_fim.backends.base import TokenChoice


def branch_starts(generated: str, choices: Sequence[TokenChoice]) -> list[str]:
    """The starts of alternatives, likeliest first: the generated text up to a token, then one
    of the tokens the model ranked after it there. ``choices`` are the tokens of
    ``generated``, in order."""
    ranked: list[tuple[float, str]] = []
    start = 0
    for choice in choices:
        ranked += [(logprob, generated[:start] + text) for text, logprob in choice.runners_up]
        start = choice.end
    ranked.sort(key=lambda candidate: -candidate[0])
    return list(dict.fromkeys(text for _, text in ranked))


def is_distinct(text: str, shown: Sequence[str]) -> bool:
    """Worth showing beside ``shown``: not empty, and not one of them up to blank space."""
    words = text.split()
    return bool(words) and all(other.split() != words for other in shown)
