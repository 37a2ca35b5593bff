"""Answers without the model when the user is typing through a suggestion already shown.

If the text before the cursor grew by exactly the characters the last suggestion started with,
and nothing after the cursor changed, the rest of that suggestion is still the model's answer.
Also repeats a suggestion verbatim for an unchanged context (the editor asking again).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedSuggestion:
    before: str
    after: str
    text: str
    stop_reason: str


class SuggestionCache:
    def __init__(self, capacity: int = 32) -> None:
        self._entries: OrderedDict[str, CachedSuggestion] = OrderedDict()
        self._capacity = capacity

    def remember(self, key: str, before: str, after: str, text: str, stop_reason: str) -> None:
        self._entries[key] = CachedSuggestion(before, after, text, stop_reason)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def lookup(self, key: str, before: str, after: str) -> CachedSuggestion | None:
        """The remaining suggestion for this context, or ``None`` when the model must run."""
        entry = self._entries.get(key)
        if entry is None or after != entry.after or not before.startswith(entry.before):
            return None
        typed = before[len(entry.before) :]
        if not entry.text.startswith(typed) or len(typed) >= len(entry.text):
            return None
        return CachedSuggestion(before, after, entry.text[len(typed) :], entry.stop_reason)
