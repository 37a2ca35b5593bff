"""Agreement: did speed change the suggestions? The server's answers against the engine's on
a cold cache with nothing remembered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bench.cold import start_cold
from bench.latency.states import BenchState
from bench.latency.stats import per
from lsp_fim.engine import CompletionEngine


def cold_suggestions(engine: CompletionEngine, states: Sequence[BenchState]) -> list[str]:
    """The engine's suggestion at each state with a cold model cache and nothing remembered:
    what the server should have said had no optimisation been at work. The whole answer: the
    server's may be its start, cut by ``maxGenerateMs``."""
    cold = replace(engine.settings, max_generate_ms=0)
    suggestions = []
    for state in states:
        start_cold(engine.backend)
        engine.update_settings(cold)  # forgets remembered suggestions
        completion = engine.complete(state.request())
        suggestions.append(completion.text if completion else "")
    return suggestions


def agreement_report(states: Sequence[BenchState], cold: Sequence[str]) -> dict[str, Any]:
    """Split by where the server's answer came from: a typed-through cache answer is the rest
    of an older generation, which a fresh one at the new state need not repeat."""
    pairs = list(zip(states, cold, strict=True))

    def count(selected: list[tuple[BenchState, str]]) -> dict[str, Any]:
        agreed = sum(1 for state, text in selected if text == state.server_suggestion)
        starts = sum(1 for state, text in selected if text.startswith(state.server_suggestion))
        return {
            "states": len(selected),
            "agreed": agreed,
            "share": per(agreed, len(selected)),
            "starts_alike": starts,
        }

    return {
        **count(pairs),
        "model_answers": count([p for p in pairs if p[0].server_from_cache is False]),
        "cache_answers": count([p for p in pairs if p[0].server_from_cache]),
        "disagreeing": [
            {
                "file": s.file,
                "offset": s.offset,
                "from_cache": s.server_from_cache,
                "server": s.server_suggestion,
                "cold": text,
            }
            for s, text in pairs
            if text != s.server_suggestion
        ],
    }
