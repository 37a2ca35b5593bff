"""Pathological documents cost the scope guard work in proportion to their size."""

from __future__ import annotations

import pytest

from lsp_fim.scope import hole, make_guard


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
    guard = make_guard("scope", "python", "v = " + "[" * 10_000, "]" * 10_000 + "\n")
    assert guard.feed("1") is None
    assert 0 < calls <= 2 * 10_000
