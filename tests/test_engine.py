"""The engine's own decisions, on a scripted backend: time limit, cache, work ahead."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from scripted import PlainTemplate, ScriptedBackend

from lsp_fim.config import Settings
from lsp_fim.engine import Completion, CompletionEngine, CompletionRequest, load_engine
from lsp_fim.related_files import RelatedDocument
from lsp_fim.scope import StopReason
from lsp_fim.templates import load_template

LINES = ["x = 1\n", "y = 2\n", "z = 3\n", "w = 4\n"]


def engine_with(settings: Settings, seconds_per_piece: float = 0.0) -> CompletionEngine:
    backend = ScriptedBackend({"def f": LINES}, seconds_per_piece)
    return CompletionEngine(backend, PlainTemplate(), settings)


def nothing(completion: Completion | None) -> bool:
    """An answer with nothing to show (the engine still returns its stats)."""
    return completion is not None and completion.text == ""


def request() -> CompletionRequest:
    text = "def f():\n    pass\n\n"
    return CompletionRequest(text, len(text), "python", "/tmp/f.py")


def test_generation_time_limit_keeps_the_whole_lines_written() -> None:
    engine = engine_with(Settings(max_generate_ms=1), seconds_per_piece=0.05)
    completion = engine.complete(request())
    assert completion is not None
    # Cut as at the token limit: where the code written so far ends cleanly.
    assert completion.stop_reason in (StopReason.MAX_TOKENS, StopReason.PARSE_CLEAN)
    assert completion.stats.generated_tokens < len(LINES)
    assert completion.text in ("x = 1", "x = 1\ny = 2", "x = 1\ny = 2\nz = 3")


def test_without_a_time_limit_the_model_runs_to_its_end() -> None:
    completion = engine_with(Settings(max_generate_ms=0), 0.01).complete(request())
    assert completion is not None and completion.stats.generated_tokens == len(LINES)


def test_the_suggestion_computed_ahead_answers_from_the_cache() -> None:
    engine = engine_with(Settings())
    ahead = request()
    engine.complete_ahead(ahead, threading.Event())
    assert engine.counters.background_runs == 1
    completion = engine.complete(ahead)
    assert completion is not None and completion.from_cache
    assert engine.counters.model_runs == 0


def test_a_cancelled_request_never_reaches_the_model() -> None:
    engine = engine_with(Settings())
    cancel = threading.Event()
    cancel.set()
    assert engine.complete(request(), cancel) is None
    assert engine.counters.model_runs == 0


def test_prefill_is_counted_as_background_work() -> None:
    engine = engine_with(Settings())
    engine.prefill(request(), threading.Event())
    assert engine.counters.background_runs == 1
    assert engine.counters.background_tokens_evaluated > 0
    assert engine.counters.requests == 0


def test_other_files_reach_the_prompt_in_the_repository_form() -> None:
    helper_file = "def frobnicate(widgets):\n    return len(widgets)\n"
    backend = ScriptedBackend({"<|file_sep|>lib/helpers.py\ndef frobnicate": ["frobnicate("]})
    text = "import helpers\n\nhelpers."
    alone = CompletionRequest(text, len(text), "python", "/p/main.py", "main.py", "p")
    related = replace(alone, related=(RelatedDocument("lib/helpers.py", helper_file, 0),))

    def engine(context_file_tokens: int) -> CompletionEngine:
        settings = Settings(context_file_tokens=context_file_tokens)
        return CompletionEngine(backend, load_template("qwen2.5-coder"), settings)

    assert nothing(engine(512).complete(alone))  # the scripted model knows nothing without it
    completion = engine(512).complete(related)
    assert completion is not None and completion.text == "frobnicate("
    assert nothing(engine(0).complete(related))


def test_an_answer_made_without_other_files_is_not_reused_with_them() -> None:
    backend = ScriptedBackend({"<|file_sep|>lib/helpers.py": ["frobnicate("]})
    engine = CompletionEngine(backend, load_template("qwen2.5-coder"), Settings())
    text = "import helpers\n\nhelpers."
    alone = CompletionRequest(text, len(text), "python", "/p/main.py", "main.py", "p")
    related = (RelatedDocument("lib/helpers.py", "def frobnicate(w):\n    pass\n", 0),)
    assert nothing(engine.complete(alone))
    completion = engine.complete(replace(alone, related=related))
    assert completion is not None and not completion.from_cache
    assert completion.text == "frobnicate("


def test_nothing_whole_within_the_time_limit_is_not_remembered() -> None:
    """On a busy machine the limit may pass before a line is whole; asking again must reach
    the model, not an empty answer remembered from that moment."""
    backend = ScriptedBackend({"def f": ["x", " = ", "1\n"]}, seconds_per_piece=0.2)
    engine = CompletionEngine(backend, PlainTemplate(), Settings(max_generate_ms=50))
    empty = engine.complete(request())
    assert empty is not None and empty.text == ""
    assert empty.stats.generated_tokens > 0  # an empty answer still says what the model did
    backend.seconds_per_piece = 0.0  # the machine is idle again
    again = engine.complete(request())
    assert again is not None and again.text == "x = 1" and not again.from_cache


def test_an_answer_made_under_old_settings_is_not_remembered_under_new_ones() -> None:
    """The editor changes a setting while a request runs in its thread: the answer was made
    under the old settings, so the new settings' cache must not hand it out."""
    import time

    engine = engine_with(Settings(max_generate_ms=0), seconds_per_piece=0.05)
    running = threading.Thread(target=engine.complete, args=(request(),))
    running.start()
    time.sleep(0.06)
    engine.update_settings(Settings(max_generate_ms=0, max_tokens=2))
    running.join()
    again = engine.complete(request())
    assert again is not None and not again.from_cache


def test_counters_add_up_when_two_threads_count() -> None:
    engine = engine_with(Settings(max_generate_ms=0))
    threads = [threading.Thread(target=engine.complete, args=(request(),)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert engine.counters_snapshot().requests == 8


@pytest.mark.model
def test_speculative_decoding_follows_its_setting(model_path: Path) -> None:
    """``speculativeDecoding: false`` reaches the in-process backend (a reload builds it)."""
    from lsp_fim.backends.llama_cpp import LlamaCppBackend

    for wanted in (False, True):
        engine = load_engine(Settings(model=str(model_path), speculative_decoding=wanted))
        assert isinstance(engine.backend, LlamaCppBackend)
        assert engine.backend.speculate is wanted
