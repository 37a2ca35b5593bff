"""The acceptance statistics store (lsp_fim.acceptance): counting, partial accepts, the file."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from pathlib import Path

import pytest

from lsp_fim.acceptance import (
    REMEMBERED_ITEMS,
    AcceptanceStats,
    Tally,
    model_label,
    read_tallies,
    render_acceptance_table,
    stats_path,
)
from lsp_fim.config import Settings


@pytest.fixture
def store(tmp_path: Path) -> AcceptanceStats:
    return AcceptanceStats(tmp_path / "stats.json")


async def test_a_suggestion_shown_twice_and_accepted_counts_once_each(
    store: AcceptanceStats,
) -> None:
    answer = store.remember("python", "m", 12)
    other = store.remember("python", "m", 5)
    assert answer != other
    assert store.shown(answer) and store.shown(answer) and store.shown(other)
    assert store.accepted(answer) and store.accepted(answer)
    python = store.summary()["byLanguage"]["python"]
    assert python == {
        "shown": 2,
        "accepted": 1,
        "partiallyAccepted": 0,
        "shownChars": 17,
        "acceptedChars": 12,
        "acceptRate": 0.5,
    }


async def test_partial_accepts_add_what_each_takes_and_a_later_accept_the_rest(
    store: AcceptanceStats,
) -> None:
    answer = store.remember("rust", "m", 20)
    assert store.partially_accepted(answer, 4)  # a word; counts it shown too
    assert store.partially_accepted(answer, 9)  # the next word: 9 taken in all
    assert store.partially_accepted(answer, 9)  # told again: nothing new
    counts = store.summary()["byModel"]["m"]
    assert (counts["shown"], counts["partiallyAccepted"], counts["acceptedChars"]) == (1, 1, 9)
    assert counts["accepted"] == 0 and counts["acceptRate"] == 0.0
    store.accepted(answer)  # Tab takes the rest
    counts = store.summary()["byModel"]["m"]
    assert (counts["accepted"], counts["partiallyAccepted"], counts["acceptedChars"]) == (1, 1, 20)


async def test_lengths_past_the_suggestion_are_cut_to_it(store: AcceptanceStats) -> None:
    answer = store.remember("go", "m", 6)
    store.partially_accepted(answer, 50)
    assert store.summary()["byLanguage"]["go"]["acceptedChars"] == 6


async def test_unknown_and_forgotten_ids_count_nothing(store: AcceptanceStats) -> None:
    first = store.remember("python", "m", 3)
    for _ in range(REMEMBERED_ITEMS):
        store.remember("python", "m", 3)
    assert not store.shown(first)
    assert not store.accepted("no-such-id")
    assert not store.partially_accepted("no-such-id", 2)
    assert store.summary() == {"byLanguage": {}, "byModel": {}}


async def test_counts_by_language_and_by_model_are_sums_of_the_pairs(
    store: AcceptanceStats,
) -> None:
    for language, model in [("python", "a"), ("python", "b"), ("lua", "a")]:
        store.accepted(store.remember(language, model, 1))
    summary = store.summary()
    assert {k: v["accepted"] for k, v in summary["byLanguage"].items()} == {"lua": 1, "python": 2}
    assert {k: v["accepted"] for k, v in summary["byModel"].items()} == {"a": 2, "b": 1}


async def test_the_counts_survive_a_restart_in_a_private_file_without_code(
    store: AcceptanceStats,
) -> None:
    answer = store.remember("python", "qwen", 8)
    store.partially_accepted(answer, 3)
    store.accepted(store.remember("python", "qwen", 4))
    store.flush()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    saved = json.loads(store.path.read_text())
    assert saved["version"] == 1
    assert set(saved["tallies"][0]) == {
        "language",
        "model",
        "shown",
        "accepted",
        "partiallyAccepted",
        "shownChars",
        "acceptedChars",
    }
    again = AcceptanceStats(store.path)
    assert again.summary() == store.summary()
    again.shown(again.remember("python", "qwen", 1))
    assert again.summary()["byLanguage"]["python"]["shown"] == 3


async def test_a_report_writes_the_file_soon_and_later_ones_wait_for_the_next_write(
    store: AcceptanceStats,
) -> None:
    store.shown(store.remember("python", "m", 2))
    await asyncio.sleep(0.05)  # the first write is due at once
    assert read_tallies(store.path)[("python", "m")].shown == 1
    store.shown(store.remember("python", "m", 2))
    await asyncio.sleep(0.05)  # within WRITE_EVERY_S of the last write: not yet
    assert read_tallies(store.path)[("python", "m")].shown == 1
    store.flush()  # as at shutdown
    assert read_tallies(store.path)[("python", "m")].shown == 2


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"version": 1}',
        '{"tallies": [{"language": "python", "model": "m", "shown": -1}]}',
        '{"tallies": [{"language": "python", "model": "m", "shown": "2"}]}',
        "[]",
    ],
)
async def test_a_corrupt_file_starts_empty_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    path = tmp_path / "stats.json"
    path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="lsp_fim.acceptance"):
        store = AcceptanceStats(path)
        assert store.summary() == {"byLanguage": {}, "byModel": {}}
    assert "counting from zero" in caplog.text
    store.accepted(store.remember("python", "m", 1))
    store.flush()
    assert read_tallies(path)[("python", "m")].accepted == 1


async def test_nothing_is_read_or_written_until_something_is_counted(
    store: AcceptanceStats,
) -> None:
    store.remember("python", "m", 2)
    store.flush()
    assert not store.path.exists()


async def test_a_file_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    store = AcceptanceStats(blocker / "stats.json")
    store.accepted(store.remember("python", "m", 1))
    store.flush()
    assert "acceptance statistics not written" in caplog.text


def test_the_file_is_in_the_users_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("LSP_FIM_CACHE_DIR", str(tmp_path / "elsewhere"))  # models only
    assert stats_path() == tmp_path / "lsp-fim" / "acceptance-stats.json"


def test_models_are_named_without_their_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LSP_FIM_MODEL", raising=False)
    assert model_label(Settings()) == "qwen2.5-coder-0.5b"
    assert model_label(Settings(model="/home/me/models/coder.Q4.gguf")) == "coder.Q4.gguf"
    assert model_label(Settings(model="owner/repo")) == "owner/repo"
    openai = Settings(backend="openai", backend_model="qwen-coder-7b")
    assert model_label(openai) == "qwen-coder-7b"
    assert model_label(Settings(backend="llama-server")) == "llama-server"


def test_auto_is_counted_under_the_model_it_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lsp_fim.models.auto._cores", lambda: 64)
    monkeypatch.setattr("lsp_fim.models.auto._memory_bytes", lambda: 256 << 30)
    assert model_label(Settings(model="auto")) == "qwen2.5-coder-1.5b"
    monkeypatch.setattr("lsp_fim.models.auto._cores", lambda: 1)
    assert model_label(Settings(model="auto")) == "qwen2.5-coder-0.5b"


def test_the_table_shows_the_accept_rate_by_language_and_model(tmp_path: Path) -> None:
    tallies = {
        ("python", "qwen"): Tally(shown=4, accepted=1, partially_accepted=2),
        ("lua", "qwen"): Tally(shown=2, accepted=2),
    }
    table = render_acceptance_table(tallies, tmp_path / "stats.json").splitlines()
    assert table[0].split() == ["language", "shown", "accepted", "in", "part", "rate"]
    assert table[1].split() == ["lua", "2", "2", "0", "100%"]
    assert table[2].split() == ["python", "4", "1", "2", "25%"]
    assert table[5].split() == ["qwen", "6", "3", "2", "50%"]
    assert str(tmp_path / "stats.json") in table[-1]
    assert "no suggestions counted yet" in render_acceptance_table({}, tmp_path / "x.json")
