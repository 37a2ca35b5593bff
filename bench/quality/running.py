"""Runs the tasks through the server's own completion path, once per stop mode."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.cold import start_cold
from bench.peers import indent_guard
from bench.quality.tasks import Task
from lsp_fim.confidence import kept_choices
from lsp_fim.engine import Completion, CompletionEngine, CompletionRequest
from lsp_fim.scope import GuardFactory, no_guard, scope_guard

# raw: stop tokens and the token limit only; indent: the peers' rule; scope: ours.
MODE_GUARDS: dict[str, GuardFactory] = {
    "raw": no_guard,
    "indent": indent_guard,
    "scope": scope_guard,
}
MODES = tuple(MODE_GUARDS)


@dataclass(frozen=True)
class Attempt:
    """One task completed in one mode, and how it scored."""

    task_id: str
    mode: str
    text: str
    stop_reason: str | None
    generated_tokens: int
    prompt_tokens: int
    prompt_tokens_evaluated: int
    prompt_ms: float
    wall_ms: float
    correct: bool = False
    parses: bool | None = None  # None: the file did not parse with the reference either
    # The model's probabilities of the kept tokens, the product's confidence from them, and
    # how many of the tokens lie on the first line that holds code (``bench.quality.confidence``).
    confidence: float | None = None
    token_logprobs: tuple[float, ...] = ()
    first_line_tokens: int = 0
    # With ``--alternatives`` (scope mode): the other suggestions an explicit request gets,
    # the time all of them took (the first included), and which of them pass; the time of
    # the explicit request alone, made after the automatic one as an editor makes it.
    alternatives: tuple[str, ...] = ()
    alternatives_ms: float = 0.0
    alternatives_correct: tuple[bool, ...] = ()
    explicit_ms: float = 0.0


def _document_path(task: Task) -> str:
    """A file name per task, so the engine's per-document state never mixes two tasks."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", task.task_id)


def _attempt(engine: CompletionEngine, task: Task, mode: str, alternatives: bool) -> Attempt:
    start_cold(engine.backend)
    request = CompletionRequest(
        task.prefix + task.suffix, len(task.prefix), task.language, _document_path(task)
    )
    started = time.perf_counter()
    completion = engine.complete(request)
    wall_ms = (time.perf_counter() - started) * 1000
    if completion is None:
        raise RuntimeError(f"{task.task_id}: no completion ({task.language} disabled?)")
    # As in an editor: the user sees the automatic suggestion, then asks for the others.
    found = engine.complete_alternatives(request) if alternatives else []
    explicit_ms = (time.perf_counter() - started) * 1000 - wall_ms
    stats = completion.stats
    return Attempt(
        task.task_id,
        mode,
        completion.text,
        str(completion.stop_reason),
        stats.generated_tokens,
        stats.prompt_tokens,
        stats.prompt_tokens_evaluated,
        stats.prompt_ms,
        wall_ms,
        confidence=completion.confidence,
        token_logprobs=tuple(choice.logprob for choice in completion.choices),
        first_line_tokens=first_line_tokens(completion),
        alternatives=tuple(other.text for other in found[1:]),
        alternatives_ms=wall_ms + explicit_ms if alternatives else 0.0,
        explicit_ms=explicit_ms if alternatives else 0.0,
    )


def first_line_tokens(completion: Completion) -> int:
    """The kept tokens that start on the first line holding code (a line break the model
    writes first, to end the line above, does not count as the line)."""
    generated = completion.generated
    content = len(generated) - len(generated.lstrip())
    line_end = generated.find("\n", content)
    line_end = len(generated) if line_end < 0 else line_end
    return len(kept_choices(completion.choices, line_end))


def run_tasks(
    engine: CompletionEngine,
    tasks: Sequence[Task],
    modes: Sequence[str],
    progress: Callable[[], None] = lambda: None,
    alternatives: bool = False,
) -> list[Attempt]:
    """Every mode of a task from a cold cache, so that all modes cut the same generation. Each
    mode is an engine of its own over the same model, with the mode's stop rule.
    ``alternatives``: scope mode asks as an explicit request does, for up to 3 suggestions."""
    engines = {
        mode: CompletionEngine(engine.backend, engine.template, engine.settings, MODE_GUARDS[mode])
        for mode in modes
    }
    attempts: list[Attempt] = []
    for task in tasks:
        attempts.extend(
            _attempt(engines[mode], task, mode, alternatives and mode == "scope") for mode in modes
        )
        progress()
    return attempts
