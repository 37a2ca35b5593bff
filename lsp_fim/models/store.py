"""The cache on disk: where models live, the lock that makes pulls take turns, the sha256 that
lets a file in, progress bars, and the ``lsp-fim model list`` table."""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lsp_fim.models.auto import auto_pick
from lsp_fim.models.catalogue import DEFAULT_MODEL, KnownModel, known_models

CHUNK_SIZE = 1 << 20

ProgressCallback = Callable[[str, int, int], None]
"""``(message, done bytes, total bytes)``; total is 0 while it is unknown."""


class ModelStoreError(RuntimeError):
    """A model could not be found, fetched or verified; the message says what to do instead."""


@dataclass(frozen=True)
class ModelStatus:
    name: str
    path: Path
    cached: bool
    size: int
    description: str


def cache_root() -> Path:
    """lsp-fim's folder in the user's cache (``$XDG_CACHE_HOME/lsp-fim``)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says to ignore a relative value.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "lsp-fim"


def cache_dir() -> Path:
    explicit = os.environ.get("LSP_FIM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return cache_root() / "models"


def list_models() -> list[ModelStatus]:
    return [
        ModelStatus(model.name, cached_path(model), is_cached(model), model.size, model.description)
        for model in known_models()
    ]


def format_model_list() -> str:
    """The ``lsp-fim model list`` table, and what ``auto`` picks on this machine and why."""
    statuses = list_models()
    width = max(len(status.name) for status in statuses)
    rows = [f"  {'NAME':<{width}}  {'SIZE':>9}  {'CACHED':<6}  DESCRIPTION"]
    rows += [
        f"{'*' if status.name == DEFAULT_MODEL else ' '} {status.name:<{width}}  "
        f"{_human_size(status.size):>9}  {'yes' if status.cached else 'no':<6}  "
        f"{status.description}"
        for status in statuses
    ]
    rows.append(f"(* default) cache: {cache_dir()}; fetch one with `lsp-fim model pull NAME`")
    rows.append(auto_pick().reason())
    return "\n".join(rows)


def verify_file(path: Path, sha256: str) -> bool:
    return file_sha256(path) == sha256.lower()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as model_file:
        while chunk := model_file.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def mismatch(model: KnownModel, digest: str, source: str) -> ModelStoreError:
    return ModelStoreError(
        f"{model.name} from {source} has sha256 {digest}, expected {model.sha256}; the file "
        "was deleted. Pull again; if this repeats the source has changed: pass --model PATH to "
        "a GGUF file you trust"
    )


def cached_path(model: KnownModel) -> Path:
    return cache_dir() / model.filename


def is_cached(model: KnownModel) -> bool:
    path = cached_path(model)
    return path.is_file() and path.stat().st_size == model.size


def staging_dir(final: Path) -> Path:
    return final.with_name(final.name + ".parts")


@contextmanager
def exclusive_lock(final: Path, report: ProgressCallback) -> Iterator[None]:
    """Two processes pulling the same model take turns; the second then finds the model in
    place instead of both writing the same partial file. Closing the file releases it."""
    with final.with_name(final.name + ".lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report(f"{final.name}: waiting for another process fetching it", 0, 0)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def progress_sink(progress: ProgressCallback | None) -> Iterator[ProgressCallback]:
    if progress is not None:
        yield progress
        return
    bars = _StderrBars()
    try:
        yield bars
    finally:
        bars.close()


class _StderrBars:
    """A tqdm bar on stderr per step (message). tqdm stays silent when stderr is not a
    terminal, so logs and CI output do not fill up with carriage returns."""

    def __init__(self) -> None:
        self._bar: Any = None  # tqdm ships no type hints
        self._message = ""

    def __call__(self, message: str, done: int, total: int) -> None:
        if self._bar is None or message != self._message:
            self.close()
            self._message = message
            self._bar = tqdm(
                desc=message, total=total or None, unit="B", unit_scale=True,
                unit_divisor=1024, file=sys.stderr, disable=None,
            )  # fmt: skip
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _human_size(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"
