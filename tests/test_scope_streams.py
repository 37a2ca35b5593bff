"""Plays a scripted suggestion into a guard the way the engine does, token-sized piece by piece."""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import cycle

import pytest

from lsp_fim.scope import StopReason, scope_guard

PIECE_SIZES = (2, 3, 4)


@dataclass(frozen=True)
class Played:
    kept: str
    reason: StopReason
    fed: int | None  # characters fed when the guard stopped it; None: it ran to the end


def play(
    language: str | None,
    prefix: str,
    suffix: str,
    suggestion: str,
    ended: StopReason = StopReason.EOS,
) -> Played:
    guard = scope_guard(language, prefix, suffix)
    fed = 0
    for size in cycle(PIECE_SIZES):
        if fed >= len(suggestion):
            break
        fed = min(len(suggestion), fed + size)
        decision = guard.feed(suggestion[:fed])
        if decision is not None:
            return Played(suggestion[: decision.keep], decision.reason, fed)
    decision = guard.finish(suggestion, ended)
    return Played(suggestion[: decision.keep], decision.reason, None)


def _big_python_file(functions: int) -> str:
    body = "    total = 0\n    for item in items:\n        total += item * {n}\n"
    return "".join(
        f'def f{n}(items):\n    """Sum ({n})."""\n' + body.format(n=n) + "    return total\n\n\n"
        for n in range(functions)
    )


def test_per_feed_cost_on_a_two_thousand_line_file(capsys: pytest.CaptureFixture[str]) -> None:
    """Measured, not asserted: the cost of one feed, and of the guard's setup, on a big file."""
    document = _big_python_file(250)
    cursor = document.index("def f125(")
    cursor = document.index("    return total", cursor)
    prefix, suffix = document[:cursor], document[cursor:]
    suggestion = "    total = max(total, 0)\n    return total\n\n\ndef g(items):\n    pass\n"
    started = time.perf_counter()
    guard = scope_guard("python", prefix, suffix)
    setup_ms = (time.perf_counter() - started) * 1000
    costs_ms: list[float] = []
    for end in range(1, len(suggestion) + 1):
        started = time.perf_counter()
        decision = guard.feed(suggestion[:end])
        costs_ms.append((time.perf_counter() - started) * 1000)
        if decision is not None:
            break
    with capsys.disabled():
        print(
            f"\n[scope] {document.count(chr(10))}-line file: setup {setup_ms:.1f} ms, "
            f"{len(costs_ms)} feeds, mean {sum(costs_ms) / len(costs_ms):.2f} ms, "
            f"slowest {max(costs_ms):.2f} ms (a parse check)"
        )
