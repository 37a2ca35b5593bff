"""The FIM quality harness (``lsp-fim eval``, ``bench/quality.py``).

It sends evaluation tasks through the server's own completion path (context windows, template,
backend, stop guard, post-processing) so that the scores describe what an editor would show.
The stop modes run on the same tasks: ``raw`` (stop tokens and the token limit only),
``indent`` (the peers' rule, :mod:`lsp_fim.scope.indent`) and ``scope`` (ours).

Default subset: a seeded sample of 40 single-line and 40 multi-line HumanEval infilling
tasks, 20 random-span (light) ones and 20 SantaCoder FIM tasks per language, 160 in all. It is
sized for about 30 minutes on 2 cores with Qwen2.5-Coder-0.5B Q4_K_M: raw mode mostly runs to
the 128-token limit (~2.5 s at ~60 tokens/s, plus the prompt at ~250 tokens/s), the guarded
modes stop sooner, and a smoke run measured 4-8 s per task for all three modes. ``--full``
runs every task, ``--limit N`` N per set.

A task's modes run back to back, so all but the first find the prompt in llama.cpp's KV cache;
time is therefore reported with the task's prompt processing charged to every mode once.

Document layout: HumanEval infilling tasks are used as published (``prompt`` before the cursor,
``suffix`` after it). A SantaCoder task's ``prompt`` ends at the end of the line above the
missing line and its ``suffix`` starts at the line below, so the line break between them is
put back and the cursor sits at the start of the line below, as in HumanEval single-line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_python
from tqdm import tqdm
from tree_sitter import Language, Parser

from lsp_fim.backends.base import (
    Backend,
    FimPrompt,
    GenerationRequest,
    GenerationStats,
    Vocabulary,
)
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine, CompletionRequest, load_engine
from lsp_fim.scope import GuardMode

MODES: tuple[GuardMode, ...] = ("raw", "indent", "scope")
PASS_AT_1 = "pass@1"
EXACT_MATCH = "exact match"
DEFAULT_SEED = 0
DEFAULT_TIMEOUT_S = 10.0
TEST_MEMORY_LIMIT_BYTES = 2 << 30

# SantaCoder's language codes, mapped to lsp-fim's language names.
_SANTACODER_LANGUAGES = {"py": "python", "java": "java", "js": "javascript"}
_EXTENSIONS = {"python": ".py", "java": ".java", "javascript": ".js"}
_GRAMMARS = {
    "python": tree_sitter_python.language,
    "java": tree_sitter_java.language,
    "javascript": tree_sitter_javascript.language,
}


@dataclass(frozen=True)
class DatasetSpec:
    file: str
    default_size: int
    santacoder_language: str | None = None  # SantaCoder's code; None for HumanEval infilling

    @property
    def metric(self) -> str:
        return PASS_AT_1 if self.santacoder_language is None else EXACT_MATCH


DATASETS: dict[str, DatasetSpec] = {
    "single-line": DatasetSpec("HumanEval-SingleLineInfilling.jsonl.gz", 40),
    "multi-line": DatasetSpec("HumanEval-MultiLineInfilling.jsonl.gz", 40),
    "random-span-light": DatasetSpec("HumanEval-RandomSpanInfillingLight.jsonl.gz", 20),
    "random-span": DatasetSpec("HumanEval-RandomSpanInfilling.jsonl.gz", 20),
    "santacoder-python": DatasetSpec("santacoder-fim-task.jsonl.gz", 20, "py"),
    "santacoder-java": DatasetSpec("santacoder-fim-task.jsonl.gz", 20, "java"),
    "santacoder-javascript": DatasetSpec("santacoder-fim-task.jsonl.gz", 20, "js"),
}
# random-span samples the same kind of task as random-span-light, from ten times as many.
DEFAULT_SETS = tuple(name for name in DATASETS if name != "random-span")


@dataclass(frozen=True)
class Task:
    """One hole: the document is ``prefix + suffix`` with the cursor between them."""

    task_id: str
    language: str
    prefix: str
    suffix: str
    reference: str  # the removed text, as it would be inserted at the cursor
    check: str | None  # test code to append and run (pass@1); None: scored by exact match


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


@dataclass(frozen=True)
class Summary:
    """One row of the report: a set in one mode."""

    dataset: str
    mode: str
    metric: str
    tasks: int
    score: float
    mean_tokens: float
    mean_seconds: float
    parse_eligible: int
    parses: int


@dataclass(frozen=True)
class Ratio:
    """A mode's cost against ``raw`` on the same tasks, in percent."""

    dataset: str
    mode: str
    tokens_percent: float | None  # None: raw generated nothing to compare with
    time_percent: float | None


# --- loading and sampling -------------------------------------------------------------------


def _read_jsonl_gz(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _humaneval_task(record: Mapping[str, Any]) -> Task:
    check = f"{record['test']}\ncheck({record['entry_point']})\n"
    return Task(
        record["task_id"],
        "python",
        record["prompt"],
        record["suffix"],
        record["canonical_solution"],
        check,
    )


def _santacoder_task(record: Mapping[str, Any]) -> Task:
    return Task(
        record["name"],
        _SANTACODER_LANGUAGES[record["language"]],
        record["prompt"] + "\n",
        record["suffix"],
        record["canonical_solution"] + "\n",
        None,
    )


def load_tasks(data_dir: Path, dataset: str) -> list[Task]:
    spec = DATASETS[dataset]
    records = _read_jsonl_gz(data_dir / spec.file)
    if spec.santacoder_language is None:
        return [_humaneval_task(record) for record in records]
    language = spec.santacoder_language
    return [_santacoder_task(record) for record in records if record["language"] == language]


def select_tasks(tasks: Sequence[Task], count: int | None, dataset: str, seed: int) -> list[Task]:
    """A seeded sample kept in file order: the same subset on every run, spread over the file."""
    if count is None or count >= len(tasks):
        return list(tasks)
    chosen = random.Random(f"{dataset}:{seed}").sample(range(len(tasks)), count)
    return [tasks[index] for index in sorted(chosen)]


# --- running the engine ---------------------------------------------------------------------


class StatsRecordingBackend:
    """Keeps the last generation's stats: the engine answers ``None`` for an empty suggestion,
    and the tokens spent on it must still count."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.last = GenerationStats()

    @property
    def vocabulary(self) -> Vocabulary:
        return self._inner.vocabulary

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def reset_cache(self) -> None:
        self._inner.reset_cache()

    def prefill(self, prompt: FimPrompt, cancel: threading.Event, stats: GenerationStats) -> bool:
        return self._inner.prefill(prompt, cancel, stats)

    def stream(self, request: GenerationRequest, stats: GenerationStats) -> Iterator[str]:
        self.last = stats
        yield from self._inner.stream(request, stats)


def _document_path(task: Task) -> str:
    """A file name per task, so the engine's per-document state never mixes two tasks."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", task.task_id) + _EXTENSIONS[task.language]


def _attempt(
    engine: CompletionEngine, recorder: StatsRecordingBackend, task: Task, mode: GuardMode
) -> Attempt:
    recorder.last = GenerationStats()
    recorder.reset_cache()
    request = CompletionRequest(
        task.prefix + task.suffix, len(task.prefix), task.language, _document_path(task)
    )
    started = time.perf_counter()
    completion = engine.complete(request, guard_mode=mode)
    wall_ms = (time.perf_counter() - started) * 1000
    stats = recorder.last
    return Attempt(
        task.task_id,
        mode,
        completion.text if completion else "",
        str(completion.stop_reason) if completion else None,
        stats.generated_tokens,
        stats.prompt_tokens,
        stats.prompt_tokens_evaluated,
        stats.prompt_ms,
        wall_ms,
    )


def run_tasks(
    engine: CompletionEngine,
    tasks: Sequence[Task],
    modes: Sequence[GuardMode],
    progress: Callable[[], None] = lambda: None,
) -> list[Attempt]:
    """Every mode of a task from a cold cache, so that all modes cut the same generation."""
    recorder = StatsRecordingBackend(engine.backend)
    measured = CompletionEngine(recorder, engine.template, engine.settings)
    attempts: list[Attempt] = []
    for task in tasks:
        attempts.extend(_attempt(measured, recorder, task, mode) for mode in modes)
        progress()
    return attempts


# --- scoring --------------------------------------------------------------------------------

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
        process = subprocess.Popen(
            [sys.executable, "-I", "-c", _TEST_RUNNER, str(path)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            return process.wait(timeout=timeout_s) == 0
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return False


def first_line(text: str) -> str:
    """The line a single-line FIM answer is judged by. A blank first line (the model ending the
    line above first) is skipped, as Qwen2.5-Coder's own FIM scorer does."""
    lines = text.split("\n")
    return lines[1] if len(lines) > 1 and not lines[0].strip() else lines[0]


def exact_match(text: str, reference: str) -> bool:
    return first_line(text).strip() == reference.strip()


@cache
def _parser(language: str) -> Parser:
    return Parser(Language(_GRAMMARS[language]()))


def parses(language: str, text: str) -> bool:
    """Whether tree-sitter reads ``text`` without a syntax error or a missing token."""
    return not _parser(language).parse(text.encode("utf-8")).root_node.has_error


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


def score_attempts(
    tasks: Sequence[Task], attempts: Sequence[Attempt], timeout_s: float, jobs: int
) -> list[Attempt]:
    """Tests run after generation, in parallel, so they never compete with the model for cores."""
    by_id = {task.task_id: task for task in tasks}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        passed = list(pool.map(lambda a: _passes(by_id[a.task_id], a, timeout_s), attempts))
    return [
        _score(by_id[attempt.task_id], attempt, result)
        for attempt, result in zip(attempts, passed, strict=True)
    ]


# --- summaries and report -------------------------------------------------------------------


def _charged_ms(attempts: Sequence[Attempt]) -> dict[tuple[str, str], float]:
    """Each attempt's time with its task's prompt processing counted once, whatever the order."""
    prompt_ms: dict[str, float] = {}
    for attempt in attempts:
        prompt_ms[attempt.task_id] = max(prompt_ms.get(attempt.task_id, 0.0), attempt.prompt_ms)
    return {
        (attempt.task_id, attempt.mode): attempt.wall_ms
        - attempt.prompt_ms
        + prompt_ms[attempt.task_id]
        for attempt in attempts
    }


def summarize(dataset: str, metric: str, attempts: Sequence[Attempt]) -> list[Summary]:
    charged = _charged_ms(attempts)
    modes = list(dict.fromkeys(attempt.mode for attempt in attempts))
    summaries = []
    for mode in modes:
        rows = [attempt for attempt in attempts if attempt.mode == mode]
        eligible = [row for row in rows if row.parses is not None]
        summaries.append(
            Summary(
                dataset,
                mode,
                metric,
                len(rows),
                sum(row.correct for row in rows) / len(rows),
                sum(row.generated_tokens for row in rows) / len(rows),
                sum(charged[row.task_id, mode] for row in rows) / len(rows) / 1000,
                len(eligible),
                sum(bool(row.parses) for row in eligible),
            )
        )
    return summaries


def _task_weighted(
    summaries: Sequence[Summary], mode: str, value: Callable[[Summary], float]
) -> float:
    return sum(value(summary) * summary.tasks for summary in summaries if summary.mode == mode)


def _ratio(dataset: str, mode: str, summaries: Sequence[Summary]) -> Ratio:
    def percent_of_raw(value: Callable[[Summary], float]) -> float | None:
        raw = _task_weighted(summaries, "raw", value)
        return 100 * _task_weighted(summaries, mode, value) / raw if raw else None

    return Ratio(
        dataset,
        mode,
        percent_of_raw(lambda summary: summary.mean_tokens),
        percent_of_raw(lambda summary: summary.mean_seconds),
    )


def ratios_to_raw(summaries: Sequence[Summary]) -> list[Ratio]:
    """Per set and over all sets (task-weighted): each other mode's tokens and time vs raw."""
    if not any(summary.mode == "raw" for summary in summaries):
        return []
    modes = list(dict.fromkeys(s.mode for s in summaries if s.mode != "raw"))
    datasets = list(dict.fromkeys(summary.dataset for summary in summaries))
    ratios = [
        _ratio(dataset, mode, [s for s in summaries if s.dataset == dataset])
        for dataset in datasets
        for mode in modes
    ]
    return ratios + [_ratio("all", mode, summaries) for mode in modes]


def _percent(part: float) -> str:
    return f"{100 * part:.1f}%"


def _whole_percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def _summary_row(summary: Summary) -> str:
    parse = (
        f"{_percent(summary.parses / summary.parse_eligible)} "
        f"({summary.parses}/{summary.parse_eligible})"
        if summary.parse_eligible
        else "n/a"
    )
    return (
        f"| {summary.dataset} | {summary.mode} | {summary.tasks} | "
        f"{summary.metric} {_percent(summary.score)} | {summary.mean_tokens:.1f} | "
        f"{summary.mean_seconds:.2f} | {parse} |"
    )


def render_markdown(title: str, summaries: Sequence[Summary], ratios: Sequence[Ratio]) -> str:
    lines = [
        f"## {title}",
        "",
        "| set | mode | tasks | score | mean tokens | mean time (s) | still parses |",
        "|---|---|---:|---:|---:|---:|---:|",
        *(_summary_row(summary) for summary in summaries),
    ]
    if ratios:
        lines += [
            "",
            "| set | mode | tokens, % of raw | time, % of raw |",
            "|---|---|---:|---:|",
            *(
                f"| {r.dataset} | {r.mode} | {_whole_percent(r.tokens_percent)} | "
                f"{_whole_percent(r.time_percent)} |"
                for r in ratios
            ),
        ]
    lines += [
        "",
        "score: pass@1 (tests executed) or exact match of the first line. mean time: per task, "
        "prompt processing included once. still parses: share of tasks whose file still parses "
        "(tree-sitter) with the suggestion, among those where it parses with the reference.",
    ]
    return "\n".join(lines) + "\n"


# --- command line ---------------------------------------------------------------------------


def _checkout_root() -> Path:
    """The checkout this module runs from (an editable install), else the working directory."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "bench").is_dir() else Path.cwd()


def _name_list(valid: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in valid]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(valid)}"
            )
        return names

    return parse


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=_checkout_root().parent / "shared" / "eval",
        help="folder with the evaluation sets (default: ../shared/eval beside the checkout)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=_checkout_root() / "bench" / "results",
        help="where quality.json and quality.md go (default: bench/results)",
    )
    parser.add_argument("--model", help="GGUF path, known name or hub repo id")
    parser.add_argument(
        "--sets",
        type=_name_list(tuple(DATASETS)),
        default=list(DEFAULT_SETS),
        help=f"comma-separated sets (default: {','.join(DEFAULT_SETS)})",
    )
    parser.add_argument(
        "--modes",
        type=_name_list(MODES),
        default=list(MODES),
        help="comma-separated stop modes (default: raw,indent,scope)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="every task of each set")
    size.add_argument(
        "--limit", type=_positive_int, metavar="N", help="N tasks per set (seeded sample)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="task sample seed")
    parser.add_argument(
        "--threads", type=_positive_int, help="llama.cpp threads (default: all cores)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds per test execution (default {DEFAULT_TIMEOUT_S:g})",
    )


def _sample_size(args: argparse.Namespace, dataset: str) -> int | None:
    if args.full:
        return None
    return int(args.limit) if args.limit is not None else DATASETS[dataset].default_size


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings(model=args.model, max_generate_ms=0)
    return replace(settings, threads=args.threads) if args.threads else settings


def _evaluate_set(
    engine: CompletionEngine, dataset: str, tasks: Sequence[Task], args: argparse.Namespace
) -> list[Attempt]:
    modes = [mode for mode in MODES if mode in args.modes]
    with tqdm(total=len(tasks), desc=dataset, file=sys.stderr) as bar:
        attempts = run_tasks(engine, tasks, modes, lambda: bar.update(1))
    return score_attempts(tasks, attempts, args.timeout, os.cpu_count() or 1)


def _write_report(out: Path, report: Mapping[str, Any], markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out / "quality.md").write_text(markdown, encoding="utf-8")


def run_eval(args: argparse.Namespace) -> int:
    """Loads the sets, runs them in every mode, writes JSON and Markdown, prints the table."""
    if not args.data.is_dir():
        print(f"lsp-fim eval: no evaluation data in {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    task_sets = {
        dataset: select_tasks(
            load_tasks(args.data, dataset), _sample_size(args, dataset), dataset, args.seed
        )
        for dataset in args.sets
    }
    engine = load_engine(_settings(args))
    attempts = {
        dataset: _evaluate_set(engine, dataset, tasks, args) for dataset, tasks in task_sets.items()
    }
    summaries = [
        summary
        for dataset, scored in attempts.items()
        for summary in summarize(dataset, DATASETS[dataset].metric, scored)
    ]
    ratios = ratios_to_raw(summaries)
    title = f"FIM quality: {args.model or 'default model'}, seed {args.seed}"
    markdown = render_markdown(title, summaries, ratios)
    report = {
        "model": args.model,
        "settings": asdict(engine.settings),
        "seed": args.seed,
        "summary": [asdict(summary) for summary in summaries],
        "ratios_to_raw": [asdict(ratio) for ratio in ratios],
        "attempts": {
            dataset: [asdict(attempt) for attempt in scored] for dataset, scored in attempts.items()
        },
    }
    _write_report(args.out, report, markdown)
    print(markdown)
    return 0
