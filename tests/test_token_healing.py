"""Token healing's bookkeeping, over a scripted backend: only the first prediction after the
prompt must start with the healed token's text, drafted tokens or not."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, cast

from lsp_fim.backends.base import GenerationStats
from lsp_fim.backends.llama_cpp import _HealingVerifier
from lsp_fim.backends.speculation import Prediction, PromptLookup, greedy_tokens

HEALED = 7


class ScriptedBackend:
    """Answers each verification with the next scripted tokens; records what healing each
    one asked for."""

    def __init__(self, script: list[list[int]]) -> None:
        self.script = script
        self.healing: list[tuple[bytes, int] | None] = []

    def verify(
        self, tokens: Sequence[int], healing: tuple[bytes, int] | None = None
    ) -> list[Prediction]:
        self.healing.append(healing)
        return [Prediction(token) for token in self.script.pop(0)]

    def forget(self, count: int) -> None:
        pass


def test_only_the_first_prediction_heals() -> None:
    backend = ScriptedBackend([[1], [2], [3]])
    verifier = _HealingVerifier(cast(Any, backend), b"sel", HEALED)
    tokens = greedy_tokens(verifier, 100, None, 3, threading.Event(), GenerationStats())
    assert [prediction.token for prediction in tokens] == [1, 2, 3]
    assert backend.healing == [(b"sel", HEALED), None, None]


def test_a_draft_verified_with_the_first_prediction_is_healed_at_that_prediction_only() -> None:
    """The first verification carries drafted tokens: the healing is still asked once."""
    backend = ScriptedBackend([[5, 6, 9], [4]])
    verifier = _HealingVerifier(cast(Any, backend), b"sel", HEALED)
    lookup = PromptLookup([1, 2, 3, 4, 100, 5, 6, 1, 2, 3, 4, 100])
    tokens = greedy_tokens(verifier, 100, lookup, 4, threading.Event(), GenerationStats())
    assert [prediction.token for prediction in tokens] == [5, 6, 9, 4]
    assert backend.healing == [(b"sel", HEALED), None]
