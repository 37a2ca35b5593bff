"""Stop strings that may arrive split across streamed pieces."""

from __future__ import annotations


class StopTextFilter:
    """Passes text through, holding back only what could still become a stop string."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(stop for stop in stops if stop)
        self._pending = ""
        self.stopped = False

    def push(self, piece: str) -> str:
        """Text that is safe to emit now; sets ``stopped`` when a stop string completed."""
        self._pending += piece
        hits = [index for stop in self._stops if (index := self._pending.find(stop)) != -1]
        if hits:
            self.stopped = True
            safe, self._pending = self._pending[: min(hits)], ""
            return safe
        hold = self._longest_partial_stop()
        safe = self._pending[: len(self._pending) - hold]
        self._pending = self._pending[len(safe) :]
        return safe

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest

    def _longest_partial_stop(self) -> int:
        longest = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(self._pending)), longest, -1):
                if self._pending.endswith(stop[:size]):
                    longest = size
                    break
        return longest
