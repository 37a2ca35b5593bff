"""Speculative decoding on the real model: the same text as plain greedy, fewer decodes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from lsp_fim.backends.llama_cpp import LlamaCppBackend
from lsp_fim.config import Settings
from lsp_fim.engine import Completion, CompletionEngine, CompletionRequest, load_engine
from lsp_fim.scope import no_guard

pytestmark = pytest.mark.model

# The cursor is at "|": the norm example of the scope tests, and code that copies names and
# lines from around the cursor, as drafts hope.
DOCUMENTS = [
    "import math\n\n\ndef norm(x: float, y: float) -> float:\n    |\n    return r\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
    "    def push(self, item):\n        self.items.append(item)\n\n    def pop(self):\n"
    "        |\n",
    "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    |\n\n\ndef mul(a, b):\n",
    "import os\n\n\ndef list_py_files(root):\n    result = []\n"
    "    for dirpath, dirnames, filenames in os.walk(root):\n        |\n    return result\n",
]
_paths = (f"/tmp/speculation-real/{index}.py" for index in itertools.count())


@pytest.fixture(scope="module")
def engine(model_path: Path) -> CompletionEngine:
    """No stop rule and 48 tokens: long generations that run into copied code."""
    settings = Settings(model=str(model_path), max_tokens=48, max_generate_ms=0, min_confidence=0)
    loaded = load_engine(settings)
    return CompletionEngine(loaded.backend, loaded.template, loaded.settings, guards=no_guard)


def complete(engine: CompletionEngine, marked: str, speculate: bool) -> Completion:
    backend = engine.backend
    assert isinstance(backend, LlamaCppBackend)
    backend.speculate = speculate
    # A new path each time: the suggestion cache must not answer.
    document, offset = marked.replace("|", ""), marked.index("|")
    request = CompletionRequest(document, offset, "python", next(_paths))
    completion = engine.complete(request)
    assert completion is not None
    return completion


@pytest.mark.parametrize("document", DOCUMENTS)
def test_speculation_gives_the_plain_greedy_text(engine: CompletionEngine, document: str) -> None:
    assert isinstance(engine.backend, LlamaCppBackend)
    engine.backend.reset_cache()
    plain = complete(engine, document, speculate=False)
    engine.backend.reset_cache()
    speculative = complete(engine, document, speculate=True)
    assert speculative.text == plain.text
    assert speculative.stats.generated_tokens == plain.stats.generated_tokens
    assert plain.stats.verifications == 0
    assert speculative.stats.verifications > 0


def test_drafts_are_accepted_where_code_repeats(engine: CompletionEngine) -> None:
    """Across the documents some drafts are made and kept (few: 8 of 192 tokens when
    measured, since only tails of 4 tokens or more are looked up)."""
    assert isinstance(engine.backend, LlamaCppBackend)
    accepted = generated = verifications = 0
    for document in DOCUMENTS:
        engine.backend.reset_cache()
        stats = complete(engine, document, speculate=True).stats
        accepted += stats.accepted_draft_tokens
        generated += stats.generated_tokens
        verifications += stats.verifications
    assert verifications > 0
    assert 0 < accepted < generated, (accepted, generated, verifications)


def test_the_cache_after_rejected_drafts_serves_the_next_request(
    engine: CompletionEngine,
) -> None:
    """Rolled-back drafts leave the cache as its bookkeeping says: the same request again,
    served from the cache (its prompt all reused), gives the same text."""
    assert isinstance(engine.backend, LlamaCppBackend)
    for document in DOCUMENTS:
        engine.backend.reset_cache()
        first = complete(engine, document, speculate=True)
        if first.stats.draft_tokens > first.stats.accepted_draft_tokens:
            break
    else:
        raise AssertionError("no document had a draft rejected")
    again = complete(engine, document, speculate=True)
    assert again.stats.prompt_tokens_evaluated == 1
    assert again.text == first.text
