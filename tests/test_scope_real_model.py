"""The scope stop on the real model: the suggestion ends where the code at the cursor ends."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine, CompletionRequest, load_engine
from lsp_fim.scope import StopReason, no_guard

pytestmark = pytest.mark.model

# The comment steers the body to code: with no line before the empty one, the default layout
# (suffix first) writes a docstring there (README: Prompt layout).
NORM = (
    "import math\n\n\ndef norm(x: float, y: float) -> float:\n"
    "    # the length of the vector (x, y)\n    \n    return r\n"
)
JSON_LOAD = (
    "import json\n\n\ndef read_config(path: str) -> dict:\n"
    "    with open(path) as f:\n        return \n"
)


@pytest.fixture(scope="module")
def engine(model_path: Path) -> CompletionEngine:
    return load_engine(Settings(model=str(model_path), max_tokens=128, max_generate_ms=0))


@pytest.fixture(scope="module")
def raw_engine(engine: CompletionEngine) -> CompletionEngine:
    """The same model without a stop rule, every suggestion shown: a 128-token run is one the
    model is sure of as a whole only very rarely."""
    settings = replace(engine.settings, min_confidence=0.0)
    return CompletionEngine(engine.backend, engine.template, settings, guards=no_guard)


def complete(engine: CompletionEngine, text: str, offset: int) -> tuple[str, StopReason, int]:
    completion = engine.complete(CompletionRequest(text, offset, "python", "/tmp/scope_real.py"))
    assert completion is not None
    return completion.text, completion.stop_reason, completion.stats.generated_tokens


def test_norm_body_stops_before_the_existing_return(
    engine: CompletionEngine, raw_engine: CompletionEngine
) -> None:
    offset = NORM.index("    \n    return r") + 4
    text, reason, generated = complete(engine, NORM, offset)
    assert "return" not in text
    assert "def " not in text
    assert reason in {StopReason.SUFFIX_REPEAT, StopReason.NEW_SIBLING, StopReason.SCOPE_CLOSED}
    ast.parse(NORM[:offset] + text + NORM[offset:])
    raw_text, _, raw_generated = complete(raw_engine, NORM, offset)
    assert "def " in raw_text, "the raw model runs on into new functions"
    assert generated < raw_generated / 3


def test_json_load_stops_after_the_expression(engine: CompletionEngine) -> None:
    offset = JSON_LOAD.index("return \n") + len("return ")
    text, reason, generated = complete(engine, JSON_LOAD, offset)
    assert text.strip() == "json.load(f)"
    assert reason != StopReason.MAX_TOKENS
    assert generated < 16
    ast.parse(JSON_LOAD[:offset] + text + JSON_LOAD[offset:])
