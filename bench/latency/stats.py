"""Latency statistics over small samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), so p50 of an even count
    is the midpoint and small samples are not rounded to one observation."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p95_ms: float | None
    mean_ms: float | None


def summarize(latencies_ms: Sequence[float]) -> LatencySummary:
    mean = sum(latencies_ms) / len(latencies_ms) if latencies_ms else None
    return LatencySummary(
        len(latencies_ms), percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.95), mean
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def per(total: int | None, count: int | None) -> float | None:
    if total is None or not count:
        return None
    return total / count
