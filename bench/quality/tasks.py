"""The evaluation sets: which files, how a record becomes a hole, which sample runs."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

PASS_AT_1 = "pass@1"
EXACT_MATCH = "exact match"
DEFAULT_SEED = 0

# SantaCoder's language codes, mapped to lsp-fim's language names.
_SANTACODER_LANGUAGES = {"py": "python", "java": "java", "js": "javascript"}


@dataclass(frozen=True)
class DatasetSpec:
    file: str
    default_size: int
    santacoder_language: str | None = None  # SantaCoder's code; None for HumanEval infilling
    # The cursor after the hole's first indentation, where an editor puts it after Enter,
    # instead of at the start of the line; the tasks sampled as this other set's.
    cursor_indented: bool = False
    same_sample_as: str | None = None

    @property
    def metric(self) -> str:
        return PASS_AT_1 if self.santacoder_language is None else EXACT_MATCH


DATASETS: dict[str, DatasetSpec] = {
    "single-line": DatasetSpec("HumanEval-SingleLineInfilling.jsonl.gz", 40),
    "multi-line": DatasetSpec("HumanEval-MultiLineInfilling.jsonl.gz", 40),
    "multi-line-indented": DatasetSpec(
        "HumanEval-MultiLineInfilling.jsonl.gz",
        40,
        cursor_indented=True,
        same_sample_as="multi-line",
    ),
    "random-span-light": DatasetSpec("HumanEval-RandomSpanInfillingLight.jsonl.gz", 20),
    "random-span": DatasetSpec("HumanEval-RandomSpanInfilling.jsonl.gz", 20),
    "santacoder-python": DatasetSpec("santacoder-fim-task.jsonl.gz", 20, "py"),
    "santacoder-java": DatasetSpec("santacoder-fim-task.jsonl.gz", 20, "java"),
    "santacoder-javascript": DatasetSpec("santacoder-fim-task.jsonl.gz", 20, "js"),
}
# random-span samples the same kind of task as random-span-light, from ten times as many;
# multi-line-indented is multi-line's sample with the cursor where an editor leaves it.
DEFAULT_SETS = tuple(
    name for name in DATASETS if name not in {"random-span", "multi-line-indented"}
)


@dataclass(frozen=True)
class Task:
    """One hole: the document is ``prefix + suffix`` with the cursor between them."""

    task_id: str
    language: str
    prefix: str
    suffix: str
    reference: str  # the removed text, as it would be inserted at the cursor
    check: str | None  # test code to append and run (pass@1); None: scored by exact match


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
        tasks = [_humaneval_task(record) for record in records]
        return [_indented(task) for task in tasks] if spec.cursor_indented else tasks
    language = spec.santacoder_language
    return [_santacoder_task(record) for record in records if record["language"] == language]


def _indented(task: Task) -> Task:
    """``task`` as an editor holds it after Enter: the cursor after the new line's
    indentation, and the line's end, the newline that ends the removed text, after it."""
    reference = task.reference.removesuffix("\n")
    indentation = reference[: len(reference) - len(reference.lstrip(" \t"))]
    return replace(
        task,
        prefix=task.prefix + indentation,
        suffix=task.suffix if reference == task.reference else "\n" + task.suffix,
        reference=reference[len(indentation) :],
    )


def select_tasks(tasks: Sequence[Task], count: int | None, dataset: str, seed: int) -> list[Task]:
    """A seeded sample kept in file order: the same subset on every run, spread over the file."""
    if count is None or count >= len(tasks):
        return list(tasks)
    sample = DATASETS[dataset].same_sample_as if dataset in DATASETS else None
    chosen = random.Random(f"{sample or dataset}:{seed}").sample(range(len(tasks)), count)
    return [tasks[index] for index in sorted(chosen)]
