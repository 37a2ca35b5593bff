"""Work ahead that gives way, on the real model: what it evaluated is kept when the cache held
nothing this prompt can use (another document), and dropped otherwise."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lsp_fim.backends.base import FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.kv_reuse import common_prefix_length
from lsp_fim.backends.llama_cpp import PROMPT_BATCH_TOKENS, LlamaCppBackend
from lsp_fim.templates import load_template

pytestmark = pytest.mark.model

CORPUS = Path(__file__).parent.parent / "bench" / "corpus"
QWEN = load_template("qwen2.5-coder")


def prompt(text: str, cursor: int) -> FimPrompt:
    prefix, suffix = text[:cursor], text[cursor:]
    return FimPrompt(QWEN.render_pieces(prefix, suffix), prefix, suffix)


GRAPHLIB = (CORPUS / "graphlib.py.txt").read_text(encoding="utf-8")[:3000]
INI = (CORPUS / "ini.js.txt").read_text(encoding="utf-8")[:3000]
OTHER_DOCUMENT = prompt(GRAPHLIB, 2000)
OPENED = prompt(INI, 2000)


class GiveWayAfter(threading.Event):
    """Set for whoever looks after ``looks`` looks: a keystroke arriving mid-prefill."""

    def __init__(self, looks: int) -> None:
        super().__init__()
        self.looks = looks

    def is_set(self) -> bool:
        self.looks -= 1
        return self.looks < 0


@pytest.fixture
def backend(model_path: Path) -> LlamaCppBackend:
    return LlamaCppBackend(model_path, threads=2, speculate=False)


def evaluated_by_prefill(backend: LlamaCppBackend, fim: FimPrompt, cancel: threading.Event) -> int:
    stats = GenerationStats()
    backend.prefill(fim, cancel, stats)
    return stats.prompt_tokens_evaluated


def first_tokens(backend: LlamaCppBackend, fim: FimPrompt) -> str:
    request = GenerationRequest(fim, 12, QWEN.stop, threading.Event())
    return "".join(backend.stream(request, GenerationStats()))


def test_a_prefill_that_gives_way_in_a_new_document_keeps_what_it_evaluated(
    backend: LlamaCppBackend,
) -> None:
    assert evaluated_by_prefill(backend, OTHER_DOCUMENT, threading.Event()) > 0
    old, new = (backend.tokenize_prompt(fim.pieces) for fim in (OTHER_DOCUMENT, OPENED))
    shared = common_prefix_length(old, new)
    assert evaluated_by_prefill(backend, OPENED, GiveWayAfter(6)) == 0
    rest = evaluated_by_prefill(backend, OPENED, threading.Event())
    kept = len(new) - 1 - shared - rest
    assert kept > 0, "the next prefill went on where the first gave way"
    assert kept % PROMPT_BATCH_TOKENS == 0, "whole batches were kept"


def test_what_a_kept_partial_prefill_computed_is_exact(
    backend: LlamaCppBackend, model_path: Path
) -> None:
    evaluated_by_prefill(backend, OTHER_DOCUMENT, threading.Event())
    evaluated_by_prefill(backend, OPENED, GiveWayAfter(7))
    cold = LlamaCppBackend(model_path, threads=2, speculate=False)
    assert first_tokens(backend, OPENED) == first_tokens(cold, OPENED)


def test_a_prefill_that_gives_way_on_a_prompt_sharing_the_cache_leaves_it_as_it_was(
    backend: LlamaCppBackend,
) -> None:
    evaluated_by_prefill(backend, OPENED, threading.Event())
    typed = prompt(INI[:300] + "// a comment typed here\n" + INI[300:], 2024)
    evaluated_by_prefill(backend, typed, GiveWayAfter(4))
    rest = evaluated_by_prefill(backend, OPENED, threading.Event())
    assert rest == 0, "the cache still held the whole prompt"
