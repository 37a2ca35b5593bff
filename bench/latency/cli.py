"""``python -m bench.latency``: the flags, and the steps in order (replay, baselines,
agreement, report)."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.engine_process import EngineStartError
from bench.latency.agreement import agreement_report, cold_suggestions
from bench.latency.baselines import BaselineResult, find_llama_server, run_llama_server, run_naive
from bench.latency.replay import Timing, run_replay, wire_settings
from bench.latency.report import build_report, write_report
from bench.latency.states import BenchRun
from bench.latency.trace import DEFAULT_FILES, choose_lines, load_corpus
from lsp_fim.config import Settings

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "results" / "latency"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.latency",
        description="Replay typing against `lsp-fim serve` and report keystroke latency.",
    )
    parser.add_argument("--model", help="GGUF path or known name (default: the default model)")
    parser.add_argument(
        "--template", help="FIM template name or .toml file (the setting template; default: auto)"
    )
    parser.add_argument(
        "--files", nargs="+", help=f"corpus files (default: {' '.join(DEFAULT_FILES)})"
    )
    parser.add_argument("--lines-per-file", type=int, default=4)
    parser.add_argument("--cps", type=float, default=10.0, help="typing speed, characters/s")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds after each typed line")
    parser.add_argument(
        "--open-pause",
        type=float,
        default=10.0,
        help="seconds between opening a file and its first keystroke",
    )
    parser.add_argument("--baseline-states", type=int, default=40)
    parser.add_argument("--no-baselines", action="store_true", help="skip naive and llama-server")
    parser.add_argument("--no-agreement", action="store_true", help="skip the cold-cache check")
    parser.add_argument("--llama-server", help="llama-server binary (else $LLAMA_SERVER, PATH)")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 file, 2 lines, 6 baseline states"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.files = args.files or [DEFAULT_FILES[0]]
        args.lines_per_file = min(args.lines_per_file, 2)
        args.baseline_states = min(args.baseline_states, 6)
    args.files = args.files or list(DEFAULT_FILES)
    return args


def bench_settings(args: argparse.Namespace, model: Path) -> Settings:
    settings = Settings(model=str(model), template=args.template)
    return settings if args.threads is None else replace(settings, threads=args.threads)


def main(argv: Sequence[str] | None = None) -> int:
    from lsp_fim.models import resolve_model

    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model = resolve_model(args.model)
    settings = bench_settings(args, model)
    files = load_corpus(args.files)
    trace = {f.name: choose_lines(f.text, args.lines_per_file) for f in files}
    timing = Timing(1.0 / args.cps, args.pause, args.open_pause)
    warn_if_busy()

    print(f"replay: {sum(map(len, trace.values()))} lines against lsp-fim serve", flush=True)
    replay = asyncio.run(
        run_replay(files, trace, wire_settings(settings), timing, args.out / "server.log")
    )
    run = BenchRun(args, model, settings, files, trace, replay)
    # Written now and again at the end: the baselines take long, the replay is the point.
    write_report(args.out, build_report(run, [], None), quiet=True)
    baselines = _baselines(run)
    agreement = None if args.no_agreement else _agreement(run)
    write_report(args.out, build_report(run, baselines, agreement))
    return 0


def warn_if_busy() -> None:
    """Two cores shared with another model workload give numbers about the sharing."""
    load = os.getloadavg()[0]
    if load > 1.0:
        print(f"warning: load average {load:.1f}: other work will inflate the latencies")


def _baselines(run: BenchRun) -> list[BaselineResult]:
    args, model, settings, states = run.args, run.model, run.settings, run.states
    if args.no_baselines:
        return []
    print(f"naive baseline: {len(states)} states", flush=True)
    naive = run_naive(model, settings.threads, settings, run.template, states)
    binary, why = find_llama_server(args.llama_server)
    if binary is None:
        print(f"llama-server baseline skipped: {why}", flush=True)
        return [naive, BaselineResult("llama-server", skipped=why)]
    print(f"llama-server baseline: {len(states)} states", flush=True)
    try:
        served = run_llama_server(binary, model, settings.threads, settings, states, args.out)
    except (EngineStartError, OSError) as error:
        print(f"llama-server baseline skipped: {error}", flush=True)
        served = BaselineResult("llama-server", skipped=str(error))
    return [naive, served]


def _agreement(run: BenchRun) -> dict[str, Any]:
    print(f"agreement: {len(run.states)} states on a cold cache", flush=True)
    return agreement_report(run.states, cold_suggestions(run.engine, run.states))
