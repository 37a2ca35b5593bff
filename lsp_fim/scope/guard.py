"""Picks the stop rule for a request (the contract the rules share is in :mod:`.contract`)."""

from __future__ import annotations

from lsp_fim.languages import is_code
from lsp_fim.scope.contract import NoGuard, StopGuard
from lsp_fim.scope.hole import read_hole
from lsp_fim.scope.profiles import profile_for
from lsp_fim.scope.scope_guard import ScopeGuard

# About 800 lines of code a side: tree-sitter parses that in a few milliseconds.
GUARD_CONTEXT_CHARS = 32_000


def scope_guard(language: str | None, prefix: str, suffix: str) -> StopGuard:
    """The scope stop for one request; ``language`` is a canonical name from
    ``lsp_fim.languages``.

    A language without scope knowledge of its own gets the indentation-and-brackets fallback;
    prose gets no guard at all.
    """
    if not is_code(language):
        return NoGuard()
    prefix, suffix = around_cursor(prefix, suffix)
    profile = profile_for(language)
    return ScopeGuard(profile, read_hole(profile, prefix, suffix))


def no_guard(language: str | None, prefix: str, suffix: str) -> StopGuard:
    """``scopeStop: false``: the model stops by itself, at its token limit or a stop string."""
    return NoGuard()


def around_cursor(prefix: str, suffix: str) -> tuple[str, str]:
    """The text the guard reads: all of it for a file of ordinary size, at most
    ``GUARD_CONTEXT_CHARS`` a side of a huge one, cut at a line break where there is one.

    tree-sitter holds the GIL while it parses, and the guard parses as the model writes: a
    2-million-character line stalled the server's event loop (every other request) for 0.9 s.
    What ends the code at the cursor lies near it."""
    if len(prefix) > GUARD_CONTEXT_CHARS:
        line_start = prefix.find("\n", len(prefix) - GUARD_CONTEXT_CHARS)
        prefix = prefix[line_start + 1 :] if line_start >= 0 else prefix[-GUARD_CONTEXT_CHARS:]
    if len(suffix) > GUARD_CONTEXT_CHARS:
        line_end = suffix.rfind("\n", 0, GUARD_CONTEXT_CHARS)
        suffix = suffix[: line_end + 1] if line_end >= 0 else suffix[:GUARD_CONTEXT_CHARS]
    return prefix, suffix
