"""Cold starts for measurement: every compared rule sees the same generation.

Greedy output depends (slightly) on how a prompt was batched, and a prompt found in a cache
costs less than one evaluated anew; comparisons therefore start each attempt with an empty
cache. The product never needs this, so it is not part of the engine's ``Backend`` protocol:
the backends meet this one by having ``reset_cache``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ColdStartable(Protocol):
    def reset_cache(self) -> None:
        """Forget cached prompt state, so the next generation starts cold."""


def start_cold(backend: object) -> None:
    """Empty ``backend``'s prompt cache; a backend without one is always cold."""
    if isinstance(backend, ColdStartable):
        backend.reset_cache()
