"""The quality harness without a model: a scripted backend behind the real engine."""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import pytest
from scripted import PlainTemplate, ScriptedBackend

import bench.quality.__main__ as harness
from bench.quality.__main__ import add_arguments, run
from bench.quality.report import Summary, ratios_to_raw, render_markdown, summarize
from bench.quality.running import Attempt, run_tasks
from bench.quality.scoring import exact_match, parses, passes_tests, score_attempts
from bench.quality.tasks import Task, load_tasks, select_tasks
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine

CHECK = "\n\ndef check(candidate):\n    assert candidate(2) == 4\n\ncheck(double)\n"
DOUBLE = Task("double", "python", "def double(x):\n", "", "    return 2 * x\n", CHECK)


def scripted_engine(answers: dict[str, list[str]]) -> CompletionEngine:
    return CompletionEngine(ScriptedBackend(answers), PlainTemplate(), Settings())


def attempt(task_id: str, mode: str, **fields: object) -> Attempt:
    values: dict[str, object] = {
        "text": "",
        "stop_reason": None,
        "generated_tokens": 0,
        "prompt_tokens": 0,
        "prompt_tokens_evaluated": 0,
        "prompt_ms": 0.0,
        "wall_ms": 0.0,
    }
    values.update(fields)
    return Attempt(task_id, mode, **values)


def write_jsonl_gz(path: Path, records: list[dict[str, str]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(record) + "\n" for record in records)


def humaneval_record(index: int) -> dict[str, str]:
    return {
        "task_id": f"SingleLineInfilling/HumanEval/{index}/L0",
        "entry_point": f"f{index}",
        "prompt": f"def f{index}(x):\n",
        "suffix": "",
        "canonical_solution": f"    return x + {index}\n",
        "test": f"\n\ndef check(candidate):\n    assert candidate(1) == {1 + index}\n",
    }


def santacoder_record(index: int, language: str) -> dict[str, str]:
    return {
        "name": f"santa-{language}-{index}",
        "language": language,
        "prompt": f"def g{index}():",
        "suffix": "",
        "canonical_solution": f"    return {index}",
        "tests": "",
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "eval"
    data.mkdir()
    write_jsonl_gz(
        data / "HumanEval-SingleLineInfilling.jsonl.gz", [humaneval_record(i) for i in range(5)]
    )
    santacoder = [santacoder_record(i, "py") for i in range(3)] + [santacoder_record(9, "js")]
    write_jsonl_gz(data / "santacoder-fim-task.jsonl.gz", santacoder)
    return data


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_tasks_are_documents_with_the_cursor_where_the_hole_was(data_dir: Path) -> None:
    humaneval = load_tasks(data_dir, "single-line")
    assert len(humaneval) == 5
    assert humaneval[2].prefix == "def f2(x):\n"
    assert humaneval[2].check is not None and humaneval[2].check.endswith("check(f2)\n")
    santacoder = load_tasks(data_dir, "santacoder-python")
    assert [task.task_id for task in santacoder] == ["santa-py-0", "santa-py-1", "santa-py-2"]
    assert santacoder[1].prefix == "def g1():\n"
    assert santacoder[1].reference == "    return 1\n"
    assert santacoder[1].check is None
    assert load_tasks(data_dir, "santacoder-javascript")[0].language == "javascript"


def test_subset_is_seeded_and_kept_in_file_order() -> None:
    tasks = [Task(f"t{i}", "python", "", "", "", None) for i in range(50)]
    first = select_tasks(tasks, 10, "single-line", seed=0)
    assert first == select_tasks(tasks, 10, "single-line", seed=0)
    assert first != select_tasks(tasks, 10, "single-line", seed=1)
    assert first != select_tasks(tasks, 10, "multi-line", seed=0)
    assert first == sorted(first, key=tasks.index)
    assert len(first) == 10
    assert select_tasks(tasks, None, "single-line", seed=0) == tasks
    assert select_tasks(tasks, 80, "single-line", seed=0) == tasks


def test_exact_match_compares_the_first_line_without_surrounding_whitespace() -> None:
    assert exact_match("  return x;  \n  more();", "\treturn x;\n")
    assert exact_match("\n    return x;\n", "return x;")
    assert not exact_match("return x;", "return y;")
    assert not exact_match("foo();return x;", "return x;")


def test_passing_failing_and_hanging_candidates() -> None:
    assert passes_tests(DOUBLE.prefix + DOUBLE.reference + DOUBLE.check, timeout_s=30)
    assert not passes_tests(DOUBLE.prefix + "    return x\n" + DOUBLE.check, timeout_s=30)
    started = time.monotonic()
    assert not passes_tests("while True:\n    pass\n", timeout_s=1)
    assert time.monotonic() - started < 10


def test_candidates_run_in_an_isolated_python_in_an_empty_directory() -> None:
    program = "import os, sys\nassert sys.flags.isolated\nassert os.listdir() == ['candidate.py']\n"
    assert passes_tests(program, timeout_s=30)


def test_parses_per_language() -> None:
    assert parses("python", "def f():\n    return 1\n")
    assert not parses("python", "def f(:\n    return 1\n")
    assert parses("java", "class A { int f() { return 1; } }")
    assert not parses("java", "class A { int f() { return 1 } }")
    assert parses("javascript", "function f() { return 1; }")
    assert not parses("javascript", "function f() { return (1; }")


def test_scoring_runs_tests_and_checks_the_file_still_parses() -> None:
    unparsable = Task("broken", "python", "def f(:\n", "", "    pass\n", None)
    attempts = [
        attempt("double", "raw", text="    return 2 * x\n"),
        attempt("double", "scope", text="    return x +\n"),
        attempt("broken", "raw", text="    pass\n"),
    ]
    scored = score_attempts([DOUBLE, unparsable], attempts, timeout_s=30, jobs=2)
    assert [(a.correct, a.parses) for a in scored] == [(True, True), (False, False), (True, None)]


def test_summary_charges_the_shared_prompt_once_per_mode() -> None:
    attempts = [
        attempt("a", "raw", generated_tokens=40, prompt_ms=100.0, wall_ms=300.0, correct=True),
        attempt("a", "scope", generated_tokens=10, prompt_ms=5.0, wall_ms=105.0, correct=True),
        attempt("b", "raw", generated_tokens=20, prompt_ms=200.0, wall_ms=500.0, parses=True),
        attempt("b", "scope", generated_tokens=10, prompt_ms=4.0, wall_ms=104.0, parses=False),
    ]
    raw, scope = summarize("single-line", "pass@1", attempts)
    assert (raw.mode, raw.tasks, raw.score, raw.mean_tokens) == ("raw", 2, 0.5, 30.0)
    assert raw.mean_seconds == pytest.approx(0.4)
    assert scope.mean_seconds == pytest.approx((200.0 + 300.0) / 2 / 1000)
    assert (raw.parse_eligible, raw.parses, scope.parse_eligible, scope.parses) == (1, 1, 1, 0)


def summary(dataset: str, mode: str, tasks: int, tokens: float, seconds: float) -> Summary:
    return Summary(dataset, mode, "pass@1", tasks, 0.5, tokens, seconds, 0, 0)


def test_ratios_to_raw_per_set_and_task_weighted_over_all() -> None:
    summaries = [
        summary("single-line", "raw", 10, 40.0, 2.0),
        summary("single-line", "scope", 10, 10.0, 1.0),
        summary("multi-line", "raw", 30, 100.0, 4.0),
        summary("multi-line", "scope", 30, 50.0, 2.0),
    ]
    ratios = {(r.dataset, r.mode): r for r in ratios_to_raw(summaries)}
    assert ratios["single-line", "scope"].tokens_percent == pytest.approx(25.0)
    assert ratios["multi-line", "scope"].time_percent == pytest.approx(50.0)
    assert ratios["all", "scope"].tokens_percent == pytest.approx(100 * 1600 / 3400)
    assert ratios_to_raw([summary("single-line", "scope", 10, 10.0, 1.0)]) == []


def test_markdown_table_shows_scores_parse_share_and_ratios() -> None:
    summaries = [
        Summary("single-line", "raw", "pass@1", 4, 0.5, 60.0, 2.5, 4, 3),
        Summary("single-line", "scope", "pass@1", 4, 0.75, 15.0, 1.0, 0, 0),
    ]
    markdown = render_markdown("FIM quality", summaries, ratios_to_raw(summaries))
    assert "## FIM quality" in markdown
    assert "| single-line | raw | 4 | pass@1 50.0% | 60.0 | 2.50 | 75.0% (3/4) |" in markdown
    assert "| single-line | scope | 4 | pass@1 75.0% | 15.0 | 1.00 | n/a |" in markdown
    assert "| all | scope | 25% | 40% |" in markdown


def test_modes_run_back_to_back_and_empty_suggestions_still_count_tokens() -> None:
    tasks = [
        Task("one", "python", "def one():\n", "", "    return 1\n", None),
        Task("two", "python", "def two():\n", "", "    return 2\n", None),
    ]
    engine = scripted_engine({"one": ["    return", " 1\n"], "two": ["   ", "\n"]})
    attempts = run_tasks(engine, tasks, ["raw", "indent"])
    assert [(a.task_id, a.mode) for a in attempts] == [
        ("one", "raw"),
        ("one", "indent"),
        ("two", "raw"),
        ("two", "indent"),
    ]
    assert attempts[0].text == "    return 1"
    # An empty suggestion keeps its stop reason too (the engine returns its stats).
    assert (attempts[2].text, attempts[2].stop_reason, attempts[2].generated_tokens) == (
        "",
        "eos",
        2,
    )
    assert engine.backend.resets == len(attempts)  # type: ignore[attr-defined]


def test_eval_command_writes_json_and_markdown_and_prints_the_table(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers = {f"f{i}(x)": [f"    return x + {i}\n"] for i in range(5)}
    answers |= {f"g{i}()": ["    return 0\n"] for i in range(3)}
    loaded: list[Settings] = []

    def fake_load_engine(settings: Settings) -> CompletionEngine:
        loaded.append(settings)
        return scripted_engine(answers)

    monkeypatch.setattr(harness, "load_engine", fake_load_engine)
    out = tmp_path / "results"
    argv = ["--data", str(data_dir), "--out", str(out), "--model", "fake.gguf", "--threads", "1"]
    sets = ["--sets", "single-line,santacoder-python", "--modes", "raw", "--limit", "3"]
    assert run(parse_args([*argv, *sets])) == 0
    assert (loaded[0].model, loaded[0].threads) == ("fake.gguf", 1)
    report = json.loads((out / "quality.json").read_text())
    scores = {(row["dataset"], row["mode"]): row["score"] for row in report["summary"]}
    assert scores == {
        ("single-line", "raw"): 1.0,
        ("santacoder-python", "raw"): pytest.approx(1 / 3),
    }
    assert [a["mode"] for a in report["attempts"]["single-line"]] == ["raw"] * 3
    markdown = (out / "quality.md").read_text()
    assert "| santacoder-python | raw | 3 | exact match 33.3% |" in markdown
    assert markdown in capsys.readouterr().out


def test_eval_arguments_default_to_the_shared_data_beside_the_checkout() -> None:
    args = parse_args([])
    checkout = Path(__file__).resolve().parents[1]
    assert args.data == checkout.parent / "shared" / "eval"
    assert args.out == checkout / "bench" / "results"
    assert args.modes == ["raw", "indent", "scope"]
    assert "random-span" not in args.sets and "santacoder-java" in args.sets


def test_unknown_sets_modes_and_sizes_are_refused() -> None:
    for argv in (["--sets", "nope"], ["--modes", "raw,fast"], ["--limit", "0"]):
        with pytest.raises(SystemExit):
            parse_args(argv)


def test_missing_data_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(parse_args(["--data", str(tmp_path / "absent")])) == 2
    assert "no evaluation data" in capsys.readouterr().err


def test_the_indented_set_is_multi_line_s_sample_with_the_cursor_after_the_indentation(
    data_dir: Path,
) -> None:
    records = [humaneval_record(i) for i in range(50)]
    write_jsonl_gz(data_dir / "HumanEval-MultiLineInfilling.jsonl.gz", records)
    plain = select_tasks(load_tasks(data_dir, "multi-line"), 5, "multi-line", seed=3)
    indented = select_tasks(
        load_tasks(data_dir, "multi-line-indented"), 5, "multi-line-indented", seed=3
    )
    assert [task.task_id for task in indented] == [task.task_id for task in plain]
    for before, after in zip(plain, indented, strict=True):
        assert after.prefix == before.prefix + "    "
        assert after.suffix.startswith("\n")  # the cursor's line ends after the cursor
        document = after.prefix + after.reference + after.suffix
        assert document == before.prefix + before.reference + before.suffix
        assert not after.reference.startswith(" ")
