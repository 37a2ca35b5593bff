"""Answers without the model when the user is typing through a suggestion already shown.

If the text before the cursor grew by exactly the characters a recent suggestion started with,
and nothing after the cursor changed, the rest of that suggestion is still the model's answer.
Also repeats a suggestion verbatim for an unchanged context (the editor asking again), and
holds the suggestion precomputed for the state after accepting the current one. A model answer
keeps what the model wrote and its token choices: an explicit request in the same context
branches its alternatives from them instead of running the model for its first suggestion.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from lsp_fim.backends.base import TokenChoice


@dataclass(frozen=True)
class CachedSuggestion:
    """``text`` is what was shown (empty when withheld for low confidence); ``generated`` and
    ``choices`` are what the model wrote and its tokens, as in ``engine.Completion``."""

    before: str
    after: str
    text: str
    stop_reason: str
    generated: str = ""
    choices: tuple[TokenChoice, ...] = ()


class SuggestionCache:
    """The most recent contexts, least recently used out first. The editor's request and the
    work ahead use it from two threads: every method holds ``_lock``."""

    def __init__(self, capacity: int = 16) -> None:
        self._entries: OrderedDict[tuple[str, str, str], CachedSuggestion] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def remember(
        self,
        key: str,
        before: str,
        after: str,
        text: str,
        stop_reason: str,
        generated: str = "",
        choices: tuple[TokenChoice, ...] = (),
    ) -> None:
        with self._lock:
            entry = CachedSuggestion(before, after, text, stop_reason, generated, choices)
            self._entries[(key, before, after)] = entry
            self._entries.move_to_end((key, before, after))
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def model_answer(self, key: str, before: str, after: str) -> CachedSuggestion | None:
        """The model's answer for exactly this context, with its token choices; None when
        there is none (or its backend gave no probabilities)."""
        with self._lock:
            entry = self._entries.get((key, before, after))
            return entry if entry is not None and entry.choices else None

    def lookup(self, key: str, before: str, after: str) -> CachedSuggestion | None:
        """The remaining suggestion for this context, or ``None`` when the model must run."""
        with self._lock:
            for (entry_key, _, _), entry in reversed(self._entries.items()):
                rest = _rest_after_typing(entry, before, after) if entry_key == key else None
                if rest is not None:
                    self._entries.move_to_end((entry_key, entry.before, entry.after))
                    return CachedSuggestion(before, after, rest, entry.stop_reason)
        return None

    def forget(self, key_part: str) -> None:
        """Drop the entries whose key contains ``key_part`` (a closed document's)."""
        with self._lock:
            for entry_key in [k for k in self._entries if key_part in k[0]]:
                del self._entries[entry_key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _rest_after_typing(entry: CachedSuggestion, before: str, after: str) -> str | None:
    """What is left of ``entry`` once ``before`` typed into it; None when it does not apply.

    An empty answer is remembered for its own context only: once the user has typed a whole
    suggestion, what comes next is unknown, not empty.
    """
    if after != entry.after or not before.startswith(entry.before):
        return None
    typed = before[len(entry.before) :]
    if not typed:
        return entry.text
    if len(typed) < len(entry.text) and entry.text.startswith(typed):
        return entry.text[len(typed) :]
    return None
