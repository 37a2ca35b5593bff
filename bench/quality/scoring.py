"""Scoring: tests executed in an isolated Python (pass@1), else exact match of the first
line; and whether the file still parses with the suggestion in it."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache
from pathlib import Path

from tree_sitter import Parser

from bench.processes import run_to_end
from bench.quality.running import Attempt
from bench.quality.tasks import Task
from lsp_fim.scope.profiles import profile_for

DEFAULT_TIMEOUT_S = 10.0
TEST_MEMORY_LIMIT_BYTES = 2 << 30

# Runs the candidate file as __main__ under a memory cap, so a runaway test cannot take the
# machine down with it.
_TEST_RUNNER = (
    "import resource, runpy, sys\n"
    f"resource.setrlimit(resource.RLIMIT_AS, ({TEST_MEMORY_LIMIT_BYTES}, "
    f"{TEST_MEMORY_LIMIT_BYTES}))\n"
    "runpy.run_path(sys.argv[1], run_name='__main__')\n"
)


def passes_tests(program: str, timeout_s: float) -> bool:
    """Runs ``program`` in a fresh, isolated Python in an empty directory; killed at the timeout."""
    with tempfile.TemporaryDirectory(prefix="lsp-fim-eval-") as workdir:
        path = Path(workdir) / "candidate.py"
        path.write_text(program, encoding="utf-8")
        command = [sys.executable, "-I", "-c", _TEST_RUNNER, str(path)]
        status, _ = run_to_end(command, Path(workdir), timeout_s, keep_output=False)
        return status == 0


def first_line(text: str) -> str:
    """The line a single-line FIM answer is judged by. A blank first line (the model ending the
    line above first) is skipped, as Qwen2.5-Coder's own FIM scorer does."""
    lines = text.split("\n")
    return lines[1] if len(lines) > 1 and not lines[0].strip() else lines[0]


def exact_match(text: str, reference: str) -> bool:
    return first_line(text).strip() == reference.strip()


def parses(language: str, text: str) -> bool:
    """Whether tree-sitter reads ``text`` without a syntax error or a missing token, with the
    grammar the scope stop uses for ``language``."""
    return not _parser(language).parse(text.encode("utf-8")).root_node.has_error


@cache
def _parser(language: str) -> Parser:
    grammar = profile_for(language).grammar
    if grammar is None:
        raise ValueError(f"no tree-sitter grammar for {language}")
    return Parser(grammar.language)


def _score(task: Task, attempt: Attempt, passed: bool | None) -> Attempt:
    correct = passed if passed is not None else exact_match(attempt.text, task.reference)
    file_parses: bool | None = None
    if parses(task.language, task.prefix + task.reference + task.suffix):
        file_parses = parses(task.language, task.prefix + attempt.text + task.suffix)
    return replace(attempt, correct=correct, parses=file_parses)


def _passes(task: Task, attempt: Attempt, timeout_s: float) -> bool | None:
    if task.check is None:
        return None
    return passes_tests(task.prefix + attempt.text + task.suffix + task.check, timeout_s)


def _alternatives_correct(task: Task, attempt: Attempt, timeout_s: float) -> tuple[bool, ...]:
    others = [replace(attempt, text=text) for text in attempt.alternatives]
    return tuple(_score(task, other, _passes(task, other, timeout_s)).correct for other in others)


def score_attempts(
    tasks: Sequence[Task], attempts: Sequence[Attempt], timeout_s: float, jobs: int
) -> list[Attempt]:
    """Tests run after generation, in parallel, so they never compete with the model for cores."""
    by_id = {task.task_id: task for task in tasks}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        passed = list(pool.map(lambda a: _passes(by_id[a.task_id], a, timeout_s), attempts))
        others = list(
            pool.map(lambda a: _alternatives_correct(by_id[a.task_id], a, timeout_s), attempts)
        )
    return [
        replace(_score(by_id[attempt.task_id], attempt, result), alternatives_correct=other_results)
        for attempt, result, other_results in zip(attempts, passed, others, strict=True)
    ]
