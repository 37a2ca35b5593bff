"""Prompt layouts that keep the model's KV cache useful while the user types.

A FIM prompt is ``[prefix window][suffix window]`` and then the generation. Re-sending it on
every keystroke changes the end of the prefix, so everything after it (the whole suffix window)
must be evaluated again. Instead we anchor the prefix window at the start of the cursor's line
and put the text typed since the anchor at the very end of the prompt — where the model's
middle begins. Typing then only appends tokens, the suffix window stays where it was, and
llama.cpp's prompt-prefix reuse evaluates just the new characters. The anchor moves (and the
prompt is re-evaluated) only when the cursor leaves it, text around it changes, or the typed
span grows past a few lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsp_fim.context import ContextWindow, TokenCounter, build_window

MAX_TYPED_LINES = 6
MAX_TYPED_CHARS = 400


@dataclass(frozen=True)
class Anchor:
    """Where the prefix window of the last prompt ended, and the windows it used."""

    offset: int
    prefix: str
    suffix: str
    prefix_tokens: int
    suffix_tokens: int


@dataclass(frozen=True)
class AnchoredPrompt:
    """``window.prefix`` ends at the anchor; ``typed`` runs from the anchor to the cursor."""

    window: ContextWindow
    typed: str
    anchor: Anchor


def _still_valid(anchor: Anchor, text: str, offset: int) -> bool:
    if not anchor.offset <= offset:
        return False
    typed = text[anchor.offset : offset]
    if typed.count("\n") > MAX_TYPED_LINES or len(typed) > MAX_TYPED_CHARS:
        return False
    prefix_start = anchor.offset - len(anchor.prefix)
    return (
        prefix_start >= 0
        and text[prefix_start : anchor.offset] == anchor.prefix
        and text[offset : offset + len(anchor.suffix)] == anchor.suffix
    )


def plan_prompt(
    text: str,
    offset: int,
    previous: Anchor | None,
    prefix_budget: int,
    suffix_budget: int,
    count_tokens: TokenCounter,
) -> AnchoredPrompt:
    """Reuse ``previous`` when typing only appended at its end; otherwise anchor anew."""
    if previous is not None and _still_valid(previous, text, offset):
        typed = text[previous.offset : offset]
        window = ContextWindow(
            previous.prefix, previous.suffix, previous.prefix_tokens, previous.suffix_tokens
        )
        return AnchoredPrompt(window, typed, previous)
    line_start = text.rfind("\n", 0, offset) + 1
    before = build_window(text, line_start, prefix_budget, 0, count_tokens)
    after = build_window(text, offset, 0, suffix_budget, count_tokens)
    window = ContextWindow(before.prefix, after.suffix, before.prefix_tokens, after.suffix_tokens)
    anchor = Anchor(
        line_start, before.prefix, after.suffix, before.prefix_tokens, after.suffix_tokens
    )
    return AnchoredPrompt(window, text[line_start:offset], anchor)
