"""How sure the model was of a suggestion, from its own token probabilities.

A suggestion the model wrote hesitantly is more often wrong: below the ``minConfidence``
setting the server stays silent rather than show it. Which summary of the token
probabilities separates right from wrong best was measured on the quality harness's sets
(README: Confidence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lsp_fim.backends.base import TokenChoice


def kept_choices(choices: Sequence[TokenChoice], kept_chars: int) -> tuple[TokenChoice, ...]:
    """The tokens whose text the suggestion kept, in part or whole: those starting before
    ``kept_chars``."""
    kept = []
    start = 0
    for choice in choices:
        if start >= kept_chars:
            break
        kept.append(choice)
        start = choice.end
    return tuple(kept)


def confidence(choices: Sequence[TokenChoice]) -> float | None:
    """The probability the model gave the whole suggestion (the product of its tokens'), in
    [0, 1]; None when the backend gave none (an engine over HTTP that sends no
    probabilities). Of the summaries tried it separated passing from failing suggestions
    best over all the quality sets (README: Confidence), and it asks more of a long
    suggestion, which is more often wrong."""
    if not choices:
        return None
    return math.exp(sum(choice.logprob for choice in choices))
