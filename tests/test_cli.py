"""The command line as people type it: global flags on either side of the command, and the
README's command table kept to what ``--help`` offers."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_fim.cli import build_parser, main

README = Path(__file__).parent.parent / "README.md"
HELP_ONLY = {"-h", "--help", "--version"}
FLAG = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--log-file", "F", "-v"],
        ["-v", "--log-file", "F", "serve"],
        ["-v", "serve", "--log-file", "F"],
        ["--log-file", "F", "serve", "--verbose"],
    ],
)
def test_global_flags_go_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.command, args.log_file, args.verbose) == ("serve", "F", True)


def test_a_command_leaves_global_flags_given_before_it_alone() -> None:
    args = build_parser().parse_args(["--log-file", "F", "-v", "model", "list"])
    assert (args.log_file, args.verbose) == ("F", True)
    args = build_parser().parse_args(["model", "list"])
    assert (args.log_file, args.verbose) == (None, False)


def test_a_log_file_given_after_the_command_is_used(tmp_path: Path) -> None:
    log = tmp_path / "lsp-fim.log"
    assert main(["model", "list", "--log-file", str(log), "-v"]) == 0
    assert log.exists()


def leaf_commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``("model pull", its parser)`` for each command that runs something."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield " ".join(words), parser
        return
    for name, command in groups[0].choices.items():
        yield from leaf_commands(command, (*words, name))


def flags_in_help(parser: argparse.ArgumentParser) -> list[set[str]]:
    """Each option of ``parser``'s ``--help``, as the set of its spellings (``-v``,
    ``--verbose``)."""
    return [
        set(action.option_strings)
        for action in parser._actions
        if action.option_strings and not HELP_ONLY & set(action.option_strings)
    ]


def readme_commands() -> tuple[dict[str, set[str]], str]:
    """The flags each row of the README's command table names, by command, and the section's
    text outside the table."""
    section = README.read_text().split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    prose = []
    for line in section.splitlines():
        row = re.match(r"\| `lsp-fim ((?:[a-z]+ ?)+)(.*?)` \|", line)
        if row:
            rows[row[1].strip()] = set(FLAG.findall(row[2]))
        elif not line.startswith("|"):
            prose.append(line)
    return rows, "\n".join(prose)


def test_the_readme_command_table_matches_help() -> None:
    parser = build_parser()
    rows, prose = readme_commands()
    global_flags = flags_in_help(parser)
    for spellings in global_flags:  # said once, above the table
        assert any(f"`{flag}" in prose for flag in spellings), spellings
    global_spellings = set().union(*global_flags)
    for command, command_parser in leaf_commands(parser):
        assert command in rows, f"lsp-fim {command} has no row in the README's command table"
        offered = [s for s in flags_in_help(command_parser) if not s & global_spellings]
        missing = [sorted(s) for s in offered if not s & rows[command]]
        assert not missing, f"lsp-fim {command}: README lacks {missing}"
        unknown = rows[command] - set().union(*offered, global_spellings)
        assert not unknown, f"lsp-fim {command}: README names {unknown}, not in --help"


def test_stats_shows_the_counts_in_the_users_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lsp_fim.acceptance import Tally, stats_path, write_tallies

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["stats"]) == 0
    assert "no suggestions counted yet" in capsys.readouterr().out
    write_tallies(stats_path(), {("python", "qwen"): Tally(shown=4, accepted=1)})
    assert main(["stats"]) == 0
    table = capsys.readouterr().out
    assert "python" in table and "qwen" in table and "25" in table
