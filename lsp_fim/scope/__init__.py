"""Decides, while tokens stream in, where a suggestion ends.

The engine feeds every streamed prefix of the suggestion to a guard; the guard answers with a
:class:`StopDecision` as soon as the code at the cursor is complete, and the engine cancels the
backend right there instead of trimming after the token limit.
"""

from lsp_fim.scope.contract import GuardFactory, NoGuard, StopDecision, StopGuard, StopReason
from lsp_fim.scope.guard import no_guard, scope_guard
from lsp_fim.scope.profiles import supported_languages

__all__ = [
    "GuardFactory",
    "NoGuard",
    "StopDecision",
    "StopGuard",
    "StopReason",
    "no_guard",
    "scope_guard",
    "supported_languages",
]
