"""Last touches on a cut suggestion, so that inserting it leaves exactly the intended text."""

from __future__ import annotations


def _rest_of_line(suffix: str) -> str:
    end = suffix.find("\n")
    return suffix if end == -1 else suffix[:end]


def _overlap_with_line(suggestion: str, line_rest: str) -> int:
    """Length of the longest tail of ``suggestion`` that the cursor line already continues with."""
    stripped_rest = line_rest.rstrip("\r")
    for size in range(min(len(suggestion), len(stripped_rest)), 0, -1):
        if suggestion.endswith(stripped_rest[:size]) and stripped_rest[:size].strip():
            return size
    return 0


def _head_of_line(prefix: str) -> str:
    return prefix[prefix.rfind("\n") + 1 :]


def finish_suggestion(suggestion: str, prefix: str, suffix: str) -> str:
    """Drop what already follows the cursor and trailing blank space; ``""`` means no suggestion.

    When the cursor sits in the indentation before existing code, whole lines are being
    inserted above that code, so the suggestion must end with a line break and the indentation
    the existing code had; otherwise it would run into it.
    """
    line_rest = _rest_of_line(suffix)
    if not line_rest.strip():
        suggestion = suggestion.rstrip()
    else:
        suggestion = suggestion[: len(suggestion) - _overlap_with_line(suggestion, line_rest)]
    if not suggestion.strip():
        return ""
    head = _head_of_line(prefix)
    if line_rest.strip() and not head.strip():
        suggestion = suggestion.rstrip() + "\n" + head
    return suggestion
