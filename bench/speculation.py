"""Speculative decoding on vs off, same model, same tasks, same run: generation time per
suggestion, whether the text is the same, and what the drafts bought.

Each task is completed cold twice through the engine (scope stop on, as in the editor), once
with speculation and once without, in alternating order so that neither side always goes
first. ``python -m bench.speculation --data ../shared/eval``.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.cold import start_cold
from bench.quality.tasks import DEFAULT_SEED, Task, load_tasks, select_tasks
from lsp_fim.backends.base import GenerationStats
from lsp_fim.backends.llama_cpp import LlamaCppBackend
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine, CompletionRequest, load_engine

DEFAULT_SETS = ("multi-line", "santacoder-python")


@dataclass(frozen=True)
class Run:
    text: str
    stats: GenerationStats


def _complete(engine: CompletionEngine, task: Task, speculate: bool) -> Run:
    backend = engine.backend
    assert isinstance(backend, LlamaCppBackend), "speculation is the in-process backend's"
    backend.speculate = speculate
    start_cold(backend)
    # A path per side: the suggestion cache must not answer the second side.
    path = f"/tmp/speculation-{speculate}/{task.task_id.replace('/', '-')}"
    request = CompletionRequest(task.prefix + task.suffix, len(task.prefix), task.language, path)
    completion = engine.complete(request)
    if completion is None:
        raise RuntimeError(f"{task.task_id}: no completion")
    return Run(completion.text, completion.stats)


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _generate_ms(stats: GenerationStats) -> float:
    return stats.generate_ms


def _model_ms(stats: GenerationStats) -> float:
    """Prompt and generation together: the first verification (a draft may go with the
    prompt's last token) counts as prompt time, so generate_ms alone flatters speculation."""
    return stats.prompt_ms + stats.generate_ms


def _report(pairs: Sequence[tuple[Task, Run, Run]]) -> None:
    for name, measure in (("prompt+generate_ms", _model_ms), ("generate_ms", _generate_ms)):
        on = [measure(spec.stats) for _, spec, _ in pairs]
        off = [measure(plain.stats) for _, _, plain in pairs]
        for side, values in (("on", on), ("off", off)):
            print(
                f"speculation {side}: {name} median {statistics.median(values):.0f}"
                f" p95 {_percentile(values, 0.95):.0f} mean {statistics.mean(values):.0f}"
            )
        ratios = [a / b for a, b in zip(on, off, strict=True) if b > 0]
        print(
            f"{name} on/off: median per task {statistics.median(ratios):.2f},"
            f" total {sum(on) / sum(off):.2f}"
        )
    same = [task.task_id for task, spec, plain in pairs if spec.text == plain.text]
    print(f"identical text: {len(same)}/{len(pairs)}")
    for task, spec, plain in pairs:
        if spec.text != plain.text:
            print(f"  differs: {task.task_id}: {spec.text[:60]!r} vs {plain.text[:60]!r}")
    stats = [spec.stats for _, spec, _ in pairs]
    verifications = sum(s.verifications for s in stats)
    drafted = sum(s.draft_tokens for s in stats)
    kept = sum(s.accepted_draft_tokens for s in stats)
    generated = sum(s.generated_tokens for s in stats)
    print(
        f"verifications {verifications}, drafted {drafted / max(verifications, 1):.1f} and "
        f"accepted {kept / max(verifications, 1):.1f} per verification "
        f"({kept / max(drafted, 1):.0%}); generated tokens {generated}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--model", default=Settings().model)
    parser.add_argument("--sets", default=",".join(DEFAULT_SETS))
    parser.add_argument("--count", type=int, default=10, help="tasks per set")
    args = parser.parse_args()
    # Texts compared whatever their confidence.
    engine = load_engine(Settings(model=args.model, max_generate_ms=0, min_confidence=0.0))
    tasks = [
        task
        for name in args.sets.split(",")
        for task in select_tasks(load_tasks(args.data, name), args.count, name, DEFAULT_SEED)
    ]
    print(f"load average before: {os.getloadavg()}")
    pairs = []
    for index, task in enumerate(tasks):
        order = (True, False) if index % 2 == 0 else (False, True)
        runs = {speculate: _complete(engine, task, speculate) for speculate in order}
        pairs.append((task, runs[True], runs[False]))
    print(f"load average after: {os.getloadavg()}")
    _report(pairs)


if __name__ == "__main__":
    main()
