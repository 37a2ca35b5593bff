"""The report: every number of a run, as JSON and as the Markdown table and notes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.latency.baselines import BaselineResult
from bench.latency.replay import STATS_REQUEST, Keystroke, ReplayResult, wire_settings
from bench.latency.states import BenchRun
from bench.latency.stats import per, ratio, summarize
from bench.latency.trace import CorpusFile
from bench.lsp_client import SERVER_ROOT
from lsp_fim.engine import EngineCounters

# --- rows and summaries -----------------------------------------------------------------------


def cache_share(answered: Sequence[Keystroke], counters: EngineCounters) -> float | None:
    """Per answer when the server told us (``lspFim/stats`` after each one), else estimated
    from the totals (a cache answer takes a millisecond, so it is never superseded)."""
    known = [k.from_cache for k in answered if k.from_cache is not None]
    if known:
        return sum(known) / len(known)
    return min(1.0, counters.from_cache / len(answered)) if answered else None


def ours_row(replay: ReplayResult) -> dict[str, Any]:
    answered = [k for k in replay.keystrokes if k.answered]
    counters = replay.counters
    return {
        "name": "lsp-fim",
        "latency": asdict(summarize([k.latency_ms or 0.0 for k in answered])),
        "cache_share": cache_share(answered, counters),
        "prompt_tokens_evaluated_per_run": per(
            counters.prompt_tokens_evaluated, counters.model_runs
        ),
        "generated_tokens_per_run": per(counters.generated_tokens, counters.model_runs),
        "prompt_tokens_per_run": per(counters.prompt_tokens, counters.model_runs),
        "prompt_tokens_evaluated_per_request": per(counters.prompt_tokens_evaluated, len(answered)),
    }


def baseline_row(result: BaselineResult, ours_p50: float | None) -> dict[str, Any]:
    if result.skipped:
        return {"name": result.name, "skipped": result.skipped, "notes": result.notes}
    summary = result.summary()
    runs = summary.count
    return {
        "name": result.name,
        "latency": asdict(summary),
        "cache_share": 0.0,
        "prompt_tokens_evaluated_per_run": per(result.prompt_tokens_evaluated, runs),
        "generated_tokens_per_run": per(result.generated_tokens, runs),
        "prompt_tokens_per_run": per(result.prompt_tokens, runs),
        "ratio_vs_ours": ratio(summary.p50_ms, ours_p50),
        "notes": result.notes,
    }


def replay_summary(keystrokes: Sequence[Keystroke]) -> dict[str, Any]:
    answered = [k for k in keystrokes if k.answered]
    superseded = [k for k in keystrokes if k.superseded_at is not None]
    cancel_ack = [
        (k.answered_at - k.superseded_at) * 1000
        for k in superseded
        if k.answered_at is not None and k.superseded_at is not None
    ]
    line_ends = [k.latency_ms or 0.0 for k in answered if k.ends_line]
    model_answers = [k.latency_ms or 0.0 for k in answered if k.from_cache is False]
    return {
        "keystrokes": len(keystrokes),
        "answered": len(answered),
        "answered_share": len(answered) / len(keystrokes) if keystrokes else None,
        "line_end": asdict(summarize(line_ends)),
        "model_answers": asdict(summarize(model_answers)),
        "non_empty": sum(1 for k in answered if k.suggestion),
        "superseded": len(superseded),
        "errors": sum(1 for k in keystrokes if k.error and k.superseded_at is None),
        "unanswered": sum(1 for k in keystrokes if k.answered_at is None),
        "cancel_to_answer": asdict(summarize(cancel_ack)),
    }


def _model_answer_line(replay: dict[str, Any]) -> list[str]:
    """Answers the model computed (no cache): the like-for-like figure against the baselines,
    which never answer from a cache."""
    model = replay.get("model_answers")
    if not model or not model["count"]:
        return []
    return [
        f"- Answers computed by the model (not from a cache): p50 {_ms(model['p50_ms'])} ms, "
        f"p95 {_ms(model['p95_ms'])} ms over {model['count']}."
    ]


def first_after_open(
    keystrokes: Sequence[Keystroke],
    files: Sequence[CorpusFile],
    pause_s: float,
    count_tokens: Callable[[str], int],
) -> dict[str, Any]:
    firsts = [k for k in keystrokes if k.first_after_open]
    head = files[0]
    return {
        "file": head.name,
        "file_tokens": count_tokens(head.text),
        "pause_s": pause_s,
        "latency_ms": firsts[0].latency_ms if firsts and firsts[0].answered else None,
        "suggestion": firsts[0].suggestion if firsts else None,
        "per_file_ms": [k.latency_ms if k.answered else None for k in firsts],
    }


def build_report(
    run: BenchRun, baselines: Sequence[BaselineResult], agreement: dict[str, Any] | None
) -> dict[str, Any]:
    """Every number of the run, as written to JSON and rendered to Markdown."""
    args, model, replay = run.args, run.model, run.replay
    ours = ours_row(replay)
    rows = [ours, *(baseline_row(b, ours["latency"]["p50_ms"]) for b in baselines)]
    model_mib = model.stat().st_size / 2**20
    peak_mib = replay.peak_rss_kib / 1024 if replay.peak_rss_kib else None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": rows,
        "replay": replay_summary(replay.keystrokes),
        "first_suggestion_after_open": first_after_open(
            replay.keystrokes, run.files, args.open_pause, run.count_tokens
        ),
        "agreement": agreement,
        "counters": asdict(replay.counters),
        "peak_rss_mib": peak_mib,
        "model_mib": model_mib,
        "rss_over_model_mib": None if peak_mib is None else peak_mib - model_mib,
        "model": str(model),
        "model_load_s": replay.load_s,
        "settings": wire_settings(run.settings),
        "trace": {
            "files": [f.name for f in run.files],
            "lines": sum(map(len, run.trace.values())),
            "typed": {name: [asdict(t) for t in lines] for name, lines in run.trace.items()},
            "cps": args.cps,
            "pause_s": args.pause,
            "open_pause_s": args.open_pause,
            "baseline_states": len(run.states),
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "server_source": server_source(),
        "keystrokes": [_keystroke_json(k) for k in replay.keystrokes],
    }


def server_source() -> dict[str, Any]:
    """Which code was measured: the commit, and whether lsp_fim/ had uncommitted changes
    (another change in progress in the same checkout changes what the numbers mean)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(SERVER_ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "lsp_fim").splitlines()
    return {"root": str(SERVER_ROOT), "commit": git("rev-parse", "HEAD"), "changed_files": changed}


def _keystroke_json(stroke: Keystroke) -> dict[str, Any]:
    return {
        "file": stroke.file,
        "line": stroke.line,
        "column": stroke.column,
        "latency_ms": stroke.latency_ms,
        "superseded": stroke.superseded_at is not None,
        "first_after_open": stroke.first_after_open,
        "ends_line": stroke.ends_line,
        "from_cache": stroke.from_cache,
        "suggestion": stroke.suggestion,
        "error": stroke.error,
    }


def write_report(out: Path, report: dict[str, Any], quiet: bool = False) -> None:
    (out / "latency.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = markdown_report(report)
    (out / "latency.md").write_text(markdown, encoding="utf-8")
    if not quiet:
        print(markdown)
        print(f"wrote {out / 'latency.json'} and {out / 'latency.md'}")


# --- Markdown ---------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


_TABLE_HEAD = (
    "| mode | p50 ms | p95 ms | mean ms | answered | from cache | prompt tokens evaluated / "
    "model run | generated tokens / model run | p50 vs lsp-fim |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(row: dict[str, Any]) -> str:
    if row.get("skipped"):
        return f"| {row['name']} | skipped: {row['skipped']} | | | | | | | |"
    latency = row["latency"]
    cells = [
        row["name"],
        _ms(latency["p50_ms"]),
        _ms(latency["p95_ms"]),
        _ms(latency["mean_ms"]),
        str(latency["count"]),
        _share(row.get("cache_share")),
        _num(row.get("prompt_tokens_evaluated_per_run")),
        _num(row.get("generated_tokens_per_run")),
        "1.0x" if row["name"] == "lsp-fim" else _ratio(row.get("ratio_vs_ours")),
    ]
    return "| " + " | ".join(cells) + " |"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def markdown_report(report: dict[str, Any]) -> str:
    replay, machine = report["replay"], report["machine"]
    first = report["first_suggestion_after_open"]
    agreement = report.get("agreement") or {}
    lines = [
        f"# Latency replay ({report['date']})",
        "",
        _TABLE_HEAD,
        *(table_row(row) for row in report["rows"]),
        "",
        f"- Keystrokes: {replay['keystrokes']}; answered {replay['answered']} "
        f"({_share(replay['answered_share'])}; {replay['non_empty']} with a suggestion), "
        f"superseded {replay['superseded']}, errors {replay['errors']}, "
        f"never answered {replay['unanswered']}.",
        f"- At the end of each line, where the user pauses: p50 "
        f"{_ms(replay['line_end']['p50_ms'])} ms, p95 {_ms(replay['line_end']['p95_ms'])} ms "
        f"over {replay['line_end']['count']} lines (p50 over answered requests alone favours a "
        f"server so slow that only typed-through cache answers beat the next keystroke).",
        *_model_answer_line(replay),
        f"- First suggestion after opening {first['file']} ({first['file_tokens']} tokens) and "
        f"pausing {first['pause_s']:g} s: **{_ms(first['latency_ms'])} ms** "
        f"(every file: {', '.join(_ms(v) for v in first['per_file_ms'])} ms).",
        f"- Agreement with the engine on a cold cache: {agreement_summary(agreement)}.",
        f"- Peak RSS of the server: {_num(report['peak_rss_mib'], 0)} MiB; model file "
        f"{_num(report['model_mib'], 0)} MiB (RSS - model: {_num(report['rss_over_model_mib'], 0)}"
        " MiB).",
        f"- Server counters ({STATS_REQUEST}): {_counters(report['counters'])}.",
        f"- Trace: {report['trace']['lines']} lines in {', '.join(report['trace']['files'])} at "
        f"{report['trace']['cps']:g} chars/s, {report['trace']['pause_s']:g} s pause per line; "
        f"baselines on {report['trace']['baseline_states']} of the answered states.",
        f"- Settings: {report['settings']}.",
        f"- Machine: {machine['cpu_count']} CPUs, {machine['platform']}, Python "
        f"{machine['python']}{_load(machine)}.",
        f"- Server code: {_source(report.get('server_source'))}.",
    ]
    lines += [f"- {row['name']}: {note}" for row in report["rows"] for note in row.get("notes", [])]
    return "\n".join(lines) + "\n"


def _load(machine: dict[str, Any]) -> str:
    """Other work on a 2-core machine inflates every latency; say how busy it was."""
    load = machine.get("load_average_at_end")
    return f"; load average {load[0]:.1f} (1 min) at the end" if load else ""


def _source(source: dict[str, Any] | None) -> str:
    if not source:
        return "unknown"
    changed = source["changed_files"]
    dirty = f", with uncommitted changes: {'; '.join(changed)}" if changed else ""
    return f"{source['root']} at {source['commit'][:10] or 'unknown commit'}{dirty}"


def agreement_summary(agreement: dict[str, Any]) -> str:
    if not agreement:
        return "not measured"
    parts = [f"{agreement['agreed']}/{agreement['states']} ({_share(agreement['share'])})"]
    for key, label in (("model_answers", "model answers"), ("cache_answers", "cache answers")):
        if part := agreement.get(key):
            parts.append(f"{label} {part['agreed']}/{part['states']}")
    starts = agreement.get("starts_alike")
    alike = f"; the cold answer starts with the server's in {starts}" if starts is not None else ""
    return parts[0] + " exact match" + "".join(f"; {p}" for p in parts[1:]) + alike


def _counters(counters: dict[str, Any]) -> str:
    names = (
        "requests",
        "from_cache",
        "cancelled",
        "empty",
        "model_runs",
        "prompt_tokens",
        "prompt_tokens_evaluated",
        "generated_tokens",
    )
    return ", ".join(f"{name} {counters[name]}" for name in names)
