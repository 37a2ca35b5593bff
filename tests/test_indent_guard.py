"""The ``indent`` baseline: llama.cpp's ``n_indent`` cut and Tabby's suffix-repeat removal."""

from __future__ import annotations

from bench.peers import IndentGuard, cursor_line_indent, without_duplicate_suffix_lines
from lsp_fim.scope.contract import StopDecision, StopReason

PREFIX = "def f():\n    x = 1\n    "
SUFFIX = "return x\n"  # the cursor's line reads "    return x": n_indent is 4


def stream(guard: IndentGuard, pieces: list[str]) -> list[StopDecision | None]:
    generated = ""
    decisions = []
    for piece in pieces:
        generated += piece
        decisions.append(guard.feed(generated))
    return decisions


def test_cursor_line_indent_counts_the_whole_line_and_ignores_blank_lines() -> None:
    assert cursor_line_indent("if a:\n    foo(", "bar)\nnext") == 4
    assert cursor_line_indent("if a:\n", "\t\tpass\n") == 2
    assert cursor_line_indent("if a:\n    ", "\n") == 0


def test_dedented_line_is_cut_after_its_indentation_one_token_late() -> None:
    pieces = ["y = 2\n", "    z = 3\n", "print", "(z)\n"]
    decisions = stream(IndentGuard(PREFIX, SUFFIX), pieces)
    kept = len("y = 2\n    z = 3\n")
    assert decisions == [None, None, None, StopDecision(kept, StopReason.SCOPE_CLOSED)]


def test_blank_generated_line_counts_as_dedented() -> None:
    decisions = stream(IndentGuard(PREFIX, SUFFIX), ["y = 2\n", "\n", "    z"])
    assert decisions[-1] == StopDecision(len("y = 2\n"), StopReason.SCOPE_CLOSED)


def test_blank_cursor_line_switches_the_rule_off() -> None:
    guard = IndentGuard("def f():\n    ", "\n")
    pieces = ["y = 2\n", "print(y)\n", "exit()\n", "z"]
    assert stream(guard, pieces) == [None] * len(pieces)
    generated = "".join(pieces)
    assert guard.finish(generated, StopReason.EOS) == StopDecision(len(generated), StopReason.EOS)


def test_end_of_generation_runs_the_check_once_more() -> None:
    at_eos = IndentGuard(PREFIX, SUFFIX)
    stream(at_eos, ["y = 2\n", "z"])
    assert at_eos.finish("y = 2\nz", StopReason.EOS) == StopDecision(6, StopReason.SCOPE_CLOSED)
    at_limit = IndentGuard(PREFIX, SUFFIX)
    stream(at_limit, ["y = 2\n", "z"])
    limit = at_limit.finish("y = 2\nz", StopReason.MAX_TOKENS)
    assert limit == StopDecision(7, StopReason.MAX_TOKENS)


def test_duplicate_suffix_lines_are_removed_with_everything_after() -> None:
    text = "{ id: 1 },\n{ id: 2 },"
    assert without_duplicate_suffix_lines(text, "\n  { id: 2 },\n  { id: 3 }\n];\n") == "{ id: 1 },"
    assert without_duplicate_suffix_lines("a\nb", "\n\nb\nc\nd") == "a"


def test_suffix_lines_must_all_match_and_indented_duplicates_stay_as_upstream() -> None:
    assert without_duplicate_suffix_lines("a\nb\nc", "b\nd") == "a\nb\nc"
    assert without_duplicate_suffix_lines("x = 1\n    return x", "\n    return x\n") == (
        "x = 1\n    return x"
    )
    assert without_duplicate_suffix_lines("a\nb", " \n\n") == "a\nb"


def test_finish_drops_repeated_suffix_lines() -> None:
    guard = IndentGuard("def f():\n", "\nreturn x\n")
    decision = guard.finish("a = 1\nreturn x", StopReason.EOS)
    assert decision == StopDecision(len("a = 1"), StopReason.SUFFIX_REPEAT)


def test_indent_cut_also_drops_repeated_suffix_lines() -> None:
    guard = IndentGuard("    x = ", "compute()\n")
    decisions = stream(guard, ["compute()\n", "y", "z"])
    assert decisions == [None, None, StopDecision(0, StopReason.SUFFIX_REPEAT)]
