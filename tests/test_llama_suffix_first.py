"""Qwen laid out suffix first, as the embedded backend lays it out, on the real model: typing
appends to the prompt; a move to another line reuses the text it moved over, which a
suffix-first prompt takes from the old prefix's end into the new suffix's start (out of the
cache's order); and the token cut at the cursor is healed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lsp_fim.backends.base import FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.llama_cpp import LlamaCppBackend
from lsp_fim.templates import load_template

pytestmark = pytest.mark.model

QWEN = load_template("qwen2.5-coder-suffix-first")
GRAPHLIB = (Path(__file__).parent.parent / "bench" / "corpus" / "graphlib.py.txt").read_text(
    encoding="utf-8"
)[:3000]
# A line whose completion is clear: "self." → "…(node, *predecessors)".
CALL = GRAPHLIB.index("self.add(node, *predecessors)") + len("self.")
# Four lines further down, in _get_nodeinfo.
BELOW = GRAPHLIB.index("self._node2info[node] = result = ") + len("self._node2info[node] = ")
# Inside a word there: "_Node|Info(node)".
IN_WORD = GRAPHLIB.index("result = _NodeInfo(node)") + len("result = _Node")


def at(offset: int, typed: str = "") -> FimPrompt:
    prefix, suffix = GRAPHLIB[:offset] + typed, GRAPHLIB[offset:]
    return FimPrompt(QWEN.render_pieces(prefix, suffix), prefix, suffix)


def complete(backend: LlamaCppBackend, fim: FimPrompt) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    request = GenerationRequest(fim, 12, QWEN.stop, threading.Event())
    return "".join(backend.stream(request, stats)), stats


@pytest.fixture(scope="module")
def backend(model_path: Path) -> LlamaCppBackend:
    return LlamaCppBackend(model_path, threads=2, speculate=False)


def test_the_layout_puts_the_prefix_last() -> None:
    rendered = "".join(piece.text for piece in at(CALL).pieces)
    assert rendered.endswith(GRAPHLIB[:CALL])


def test_a_keystroke_evaluates_its_typed_tokens_only(backend: LlamaCppBackend) -> None:
    backend.reset_cache()
    complete(backend, at(BELOW))
    _, stats = complete(backend, at(BELOW, "r"))
    # The typed token, and the one before it when the two merge into one token.
    assert 1 <= stats.prompt_tokens_evaluated <= 3
    assert stats.prompt_tokens > 600


def test_moving_up_reuses_the_old_prefix_s_end_and_suggests_what_a_cold_cache_does(
    backend: LlamaCppBackend, model_path: Path
) -> None:
    backend.reset_cache()
    complete(backend, at(BELOW))
    moved_text, moved = complete(backend, at(CALL))
    cold_backend = LlamaCppBackend(model_path, threads=2, speculate=False)
    cold_text, cold = complete(cold_backend, at(CALL))
    assert cold.prompt_tokens_evaluated == cold.prompt_tokens
    # Without runs out of cache order the whole prefix (about 500 tokens) is evaluated again.
    assert moved.prompt_tokens_evaluated < 60
    assert "(node, *predecessors)" in moved_text
    assert moved_text == cold_text


def test_a_cursor_inside_a_word_continues_the_word(backend: LlamaCppBackend) -> None:
    """The prompt ends in "latestTim", cut where no text the model read was cut: unhealed,
    the model suggested nothing here."""
    corpus = Path(__file__).parent.parent / "bench" / "corpus" / "branching.ts.txt"
    text = corpus.read_text(encoding="utf-8")
    cursor = text.index("let latestTime = -1;") + len("let latestTim")
    prefix, suffix = text[max(0, cursor - 1500) : cursor], text[cursor : cursor + 500]
    backend.reset_cache()
    suggestion, _ = complete(backend, FimPrompt(QWEN.render_pieces(prefix, suffix), prefix, suffix))
    assert suggestion.startswith("e = -1;"), suggestion


def test_a_cursor_in_an_indentation_gets_code_at_that_indentation(
    backend: LlamaCppBackend,
) -> None:
    """The tokenizer spells "        total" as 7 spaces and " total": healed as one token of
    8 spaces, the suggestion started with a stray space (" total += v")."""
    prefix = "def mean(values):\n    total = 0\n    for v in values:\n        "
    suffix = "\n    return total / len(values)\n"
    backend.reset_cache()
    suggestion, _ = complete(backend, FimPrompt(QWEN.render_pieces(prefix, suffix), prefix, suffix))
    assert suggestion.startswith("total += v"), suggestion
