"""Checked reading of the TOML files that hold lsp-fim's data (templates, scope profiles).

These files are edited by hand, by contributors and by users, so a mistake in one must be
reported with the file and the dotted key to fix, not as a ``KeyError`` deep in the code
that uses the value. Each kind of file raises its own exception class, so that callers can
tell a broken template from broken scope data; the table is told which one to raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DataTable:
    """One TOML table and where it came from, so that every complaint names file and key."""

    data: Mapping[str, Any]
    source: str
    raises: Callable[[str], ValueError]  # builds the caller's own error from the message
    prefix: str = ""  # dotted path of this table, with a trailing dot; empty at top level

    def error(self, key: str, problem: str) -> ValueError:
        return self.raises(f"{self.source}: `{self.prefix}{key}` {problem}")

    def expect_keys(
        self, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
    ) -> None:
        """Unknown keys are refused because they are usually typos of optional ones, which
        would otherwise be silently ignored."""
        missing = sorted(required - self.data.keys())
        if missing:
            raise self.error(missing[0], "is missing")
        unknown = sorted(self.data.keys() - required - optional)
        if unknown:
            known = ", ".join(sorted(required | optional))
            raise self.error(unknown[0], f"is not a known key (known here: {known})")

    def table(self, key: str) -> DataTable:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return self._nested(value, f"{key}.")

    def tables(self, key: str) -> list[DataTable]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(key, "must be a list of tables")
        return [self._nested(item, f"{key}[{i}].") for i, item in enumerate(value)]

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a non-empty string")
        return value

    def optional_text(self, key: str) -> str:
        value = self.data.get(key, "")
        if not isinstance(value, str):
            raise self.error(key, "must be a string")
        return value

    def texts(self, key: str, *, non_empty: bool = False) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a list of non-empty strings")
        if not value and non_empty:
            raise self.error(key, "must not be empty")
        return tuple(value)

    def pairs(self, key: str) -> list[tuple[str, str]]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(v, str) and v for v in pair)
            for pair in value
        ):
            raise self.error(key, "must be a list of [open, close] string pairs")
        return [(pair[0], pair[1]) for pair in value]

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def regex(self, key: str) -> re.Pattern[str]:
        """Compiled at load time, so that a bad expression is reported with its file and key."""
        try:
            return re.compile(self.text(key))
        except re.error as error:
            raise self.error(key, f"is not a valid regular expression: {error}") from error

    def optional_regex(self, key: str) -> re.Pattern[str] | None:
        return self.regex(key) if key in self.data else None

    def _nested(self, data: Mapping[str, Any], path: str) -> DataTable:
        return DataTable(data, self.source, self.raises, f"{self.prefix}{path}")
