"""Pathological documents cost the scope guard work in proportion to their size."""

from __future__ import annotations

import pytest

from lsp_fim.scope import hole, scope_guard


def test_ten_thousand_nested_brackets_are_read_in_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading the hole once cost 10,000² steps (27 s): each closer scanned every open
    bracket, and each scope step up walked the tree from its root."""
    calls = 0
    real = hole._unsupplied

    def counted(indices: list[int], supplied: set[int]) -> int | None:
        nonlocal calls
        calls += 1
        return real(indices, supplied)

    monkeypatch.setattr(hole, "_unsupplied", counted)
    guard = scope_guard("python", "v = " + "[" * 10_000, "]" * 10_000 + "\n")
    assert guard.feed("1") is None
    assert 0 < calls <= 2 * 10_000


def test_the_guard_reads_a_bounded_text_around_the_cursor() -> None:
    """tree-sitter holds the GIL while it parses: a 2M-character line stalled the server."""
    from lsp_fim.scope.guard import GUARD_CONTEXT_CHARS, around_cursor

    line = "x" * 2_000_000
    prefix, suffix = around_cursor(line, line)
    assert len(prefix) == len(suffix) == GUARD_CONTEXT_CHARS
    lines = "a = 1\n" * 100_000
    prefix, suffix = around_cursor(lines + "b = ", "\n" + lines)
    assert prefix.startswith("a = 1\n") and prefix.endswith("b = ")
    assert suffix.startswith("\na = 1") and suffix.endswith("\n")
    assert len(prefix) <= GUARD_CONTEXT_CHARS and len(suffix) <= GUARD_CONTEXT_CHARS
    small = ("def f():\n    ", "\n")
    assert around_cursor(*small) == small
