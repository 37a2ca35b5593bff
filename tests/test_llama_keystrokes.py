"""A keystroke's prompt on the real model: the suffix head it evaluates again last stops for
the next keystroke, and leaves the cache as whole as a finished prompt would."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lsp_fim.backends.base import FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.llama_cpp import LlamaCppBackend
from lsp_fim.templates import load_template

pytestmark = pytest.mark.model

QWEN = load_template("qwen2.5-coder")
GRAPHLIB = (Path(__file__).parent.parent / "bench" / "corpus" / "graphlib.py.txt").read_text(
    encoding="utf-8"
)[:3000]
LINE = "                self.add(node, *predecessors)"
AT = GRAPHLIB.index(LINE)
# The user retypes that line: what the model suggests is clear, not a near tie that the
# order of the cache's cells could tip.
BEFORE, AFTER = GRAPHLIB[:AT] + "                self.", GRAPHLIB[AT + len(LINE) :]


def keystroke(typed: str) -> FimPrompt:
    prefix, suffix = BEFORE + typed, AFTER
    return FimPrompt(QWEN.render_pieces(prefix, suffix), prefix, suffix)


class SetFromLook(threading.Event):
    """Unset for the first ``unset`` looks, set after: a keystroke that comes mid-request."""

    def __init__(self, unset: int) -> None:
        super().__init__()
        self.unset = unset
        self.looks = 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks > self.unset


def complete(
    backend: LlamaCppBackend, fim: FimPrompt, cancel: threading.Event | None = None
) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    request = GenerationRequest(fim, 12, QWEN.stop, cancel or threading.Event())
    return "".join(backend.stream(request, stats)), stats


@pytest.fixture
def backends(model_path: Path) -> tuple[LlamaCppBackend, LlamaCppBackend]:
    return (
        LlamaCppBackend(model_path, threads=2, speculate=False),
        LlamaCppBackend(model_path, threads=2, speculate=False),
    )


def test_a_superseded_keystroke_stops_in_its_suffix_head_and_the_next_one_loses_nothing(
    backends: tuple[LlamaCppBackend, LlamaCppBackend],
) -> None:
    stopped, finished = backends
    for backend in backends:
        complete(backend, keystroke(""))
    # Looks: on taking the model, before the head's decode, then while it runs.
    superseded = SetFromLook(2)
    text, stats = complete(stopped, keystroke("a"), superseded)
    assert superseded.looks >= 3, "the head's decode was running when the next keystroke came"
    assert (text, stats.prompt_tokens_evaluated) == ("", 0), "it stopped within its prompt"
    complete(finished, keystroke("a"))

    after_stop = complete(stopped, keystroke("ad"))
    after_finish = complete(finished, keystroke("ad"))
    assert after_stop[1].prompt_tokens_evaluated == after_finish[1].prompt_tokens_evaluated
    assert after_stop[0] == after_finish[0]
    assert after_stop[0].startswith("d(node, *predecessors)")


def test_a_prompt_larger_than_a_keystroke_finishes_whoever_comes(
    backends: tuple[LlamaCppBackend, LlamaCppBackend],
) -> None:
    """At a new place in the file, fast typing would otherwise never let a prompt through."""
    backend = backends[0]
    text, stats = complete(backend, keystroke(""), SetFromLook(1))
    assert text == ""
    assert stats.prompt_tokens_evaluated > 500, "the whole prompt was evaluated"
