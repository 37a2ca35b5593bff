"""Decode speed per model and thread count: the milliseconds of one generated token after a
1,000-token prompt, the cost that sets a suggestion's time, measured the way the embedded
backend decodes (one token per step, greedy).

It tells how a model's speed scales with cores on this machine, which is what ``model:
"auto"`` rests on (README: Choosing the model). ``python -m bench.decode_speed``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from bench.latency.trace import load_corpus
from lsp_fim.backends.llama_adapter import LlamaModel
from lsp_fim.models import resolve_model
from lsp_fim.models.catalogue import known_models

PROMPT_TOKENS = 1000
GENERATED_TOKENS = 48
REPEATS = 3


def token_ms(model: LlamaModel, prompt: Sequence[int]) -> list[float]:
    """Per-token times of a greedy run after ``prompt``, from a cold cache."""
    model.clear()
    model.decode(prompt[: model.batch_tokens], 0, 0)
    for start in range(model.batch_tokens, len(prompt), model.batch_tokens):
        model.decode(prompt[start : start + model.batch_tokens], start, 0)
    token, times = model.predict(-1, 0).token, []
    for position in range(len(prompt), len(prompt) + GENERATED_TOKENS):
        started = time.perf_counter()
        model.decode([token], position, 0)
        token = model.predict(-1, 0).token
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_speed", description=__doc__)
    parser.add_argument("--models", nargs="+", default=[m.name for m in known_models()])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args(argv)
    print("| model | threads | ms per token, median | p95 |")
    print("|---|---:|---:|---:|")
    for name in args.models:
        for threads in args.threads:
            model = LlamaModel(resolve_model(name), threads, 2048)
            (source,) = load_corpus(["graphlib.py"])
            prompt = model.tokenize(source.text.encode("utf-8"), special=False)[:PROMPT_TOKENS]
            times = [ms for _ in range(REPEATS) for ms in token_ms(model, prompt)]
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"| {name} | {threads} | {statistics.median(times):.1f} | {p95:.1f} |")
            model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
