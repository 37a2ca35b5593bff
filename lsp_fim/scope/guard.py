"""Picks the stop rule for a request (the contract the rules share is in :mod:`.contract`)."""

from __future__ import annotations

from lsp_fim.languages import is_code
from lsp_fim.scope.contract import GuardMode, NoGuard, StopGuard
from lsp_fim.scope.hole import read_hole
from lsp_fim.scope.indent import IndentGuard
from lsp_fim.scope.profiles import profile_for
from lsp_fim.scope.scope_guard import ScopeGuard


def make_guard(mode: GuardMode, language: str | None, prefix: str, suffix: str) -> StopGuard:
    """The guard for one request; ``language`` is a canonical name from ``lsp_fim.languages``.

    A language without scope knowledge of its own gets the indentation-and-brackets fallback;
    prose gets no guard at all.
    """
    if mode == "raw" or not is_code(language):
        return NoGuard()
    if mode == "indent":
        return IndentGuard(prefix, suffix)
    profile = profile_for(language)
    return ScopeGuard(profile, read_hole(profile, prefix, suffix))
