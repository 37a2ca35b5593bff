"""Every model test gets a private cache and no huggingface_hub, unless it says otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from model_fakes import PART_DATA, fake_model

from lsp_fim.models import catalogue
from lsp_fim.models.catalogue import KnownModel


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
    monkeypatch.setattr(catalogue, "KNOWN_MODELS", (model,))
    return model
