"""The contract between the engine and the stop rules: what a guard is told and answers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class StopReason(StrEnum):
    """Why a suggestion ended; shown in logs and in ``lsp-fim complete --json``."""

    SCOPE_CLOSED = "scope_closed"
    NEW_SIBLING = "new_sibling"
    SUFFIX_REPEAT = "suffix_repeat"
    LINE_COMPLETE = "line_complete"
    PARSE_CLEAN = "parse_clean"
    EOS = "eos"
    MAX_TOKENS = "max_tokens"


@dataclass(frozen=True)
class StopDecision:
    """Keep the first ``keep`` characters of the generated text, for ``reason``."""

    keep: int
    reason: StopReason


class StopGuard(Protocol):
    def feed(self, generated: str) -> StopDecision | None:
        """Called after every streamed token with all text generated so far."""

    def finish(self, generated: str, reason: StopReason) -> StopDecision:
        """Called once when the backend stopped by itself (end of stream or token limit)."""


class GuardFactory(Protocol):
    """Makes the guard for one request. The engine takes one, so that a benchmark can measure
    another stop rule through the same request path."""

    def __call__(self, language: str | None, prefix: str, suffix: str) -> StopGuard: ...


class NoGuard:
    """Keeps everything the model wrote: the ``raw`` mode, and prose, where no rule applies."""

    def feed(self, generated: str) -> StopDecision | None:
        return None

    def finish(self, generated: str, reason: StopReason) -> StopDecision:
        return StopDecision(len(generated), reason)
