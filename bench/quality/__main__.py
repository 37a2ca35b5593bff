"""``python -m bench.quality``: score FIM completions in the raw, indent and scope stop modes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.quality.gating import (
    alternatives_summary,
    render_alternatives,
    render_gating,
    separations,
)
from bench.quality.report import ratios_to_raw, render_markdown, summarize
from bench.quality.running import MODES, Attempt, run_tasks
from bench.quality.scoring import DEFAULT_TIMEOUT_S, score_attempts
from bench.quality.tasks import DATASETS, DEFAULT_SEED, DEFAULT_SETS, Task, load_tasks, select_tasks
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine, load_engine


def _checkout_root() -> Path:
    """The checkout this package lies in."""
    return Path(__file__).resolve().parents[2]


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
        "--template", help="FIM template name or .toml file (the setting template; default: auto)"
    )
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
        "--speculative-decoding",
        action="store_true",
        help="draft by prompt lookup and verify in batches (the setting speculativeDecoding)",
    )
    parser.add_argument(
        "--alternatives",
        action="store_true",
        help="scope mode asks as an explicit request does: up to 3 suggestions (pass@3)",
    )
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
    # Every suggestion scored: the report applies confidence thresholds afterwards.
    settings = Settings(
        model=args.model,
        template=args.template,
        max_generate_ms=0,
        speculative_decoding=args.speculative_decoding,
        min_confidence=0.0,
    )
    return replace(settings, threads=args.threads) if args.threads else settings


def _evaluate_set(
    engine: CompletionEngine, dataset: str, tasks: Sequence[Task], args: argparse.Namespace
) -> list[Attempt]:
    modes = [mode for mode in MODES if mode in args.modes]
    with tqdm(total=len(tasks), desc=dataset, file=sys.stderr) as bar:
        attempts = run_tasks(engine, tasks, modes, lambda: bar.update(1), args.alternatives)
    return score_attempts(tasks, attempts, args.timeout, os.cpu_count() or 1)


def _write_report(out: Path, report: Mapping[str, Any], markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out / "quality.md").write_text(markdown, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Loads the sets, runs them in every mode, writes JSON and Markdown, prints the table."""
    if not args.data.is_dir():
        print(f"bench.quality: no evaluation data in {args.data}; pass --data DIR", file=sys.stderr)
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
    gating = [found for d, scored in attempts.items() for found in separations(d, scored)]
    choices = [alternatives_summary(d, scored) for d, scored in attempts.items()]
    alternatives = [summary for summary in choices if summary is not None]
    title = f"FIM quality: {args.model or 'default model'}, seed {args.seed}"
    markdown = render_markdown(title, summaries, ratios)
    markdown += "\n".join([*render_gating(gating), *render_alternatives(alternatives), ""])
    report = {
        "model": args.model,
        "settings": asdict(engine.settings),
        "seed": args.seed,
        "summary": [asdict(summary) for summary in summaries],
        "ratios_to_raw": [asdict(ratio) for ratio in ratios],
        "confidence": [asdict(found) for found in gating],
        "alternatives": [asdict(summary) for summary in alternatives],
        "attempts": {
            dataset: [asdict(attempt) for attempt in scored] for dataset, scored in attempts.items()
        },
    }
    _write_report(args.out, report, markdown)
    print(markdown)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality",
        description="Score FIM completions in the raw, indent and scope stop modes.",
    )
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
