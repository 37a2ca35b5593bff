"""What a ``model`` value names: a GGUF path, a known model name, or a Hugging Face repo id."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lsp_fim.models.auto import AUTO, resolve_auto
from lsp_fim.models.catalogue import DEFAULT_MODEL, KnownModel, known_model, known_names
from lsp_fim.models.hub import hub_file
from lsp_fim.models.pull import pull_model
from lsp_fim.models.pypi_parts import PartFetcher
from lsp_fim.models.store import ModelStoreError, ProgressCallback, cached_path, is_cached

GGUF_MAGIC = b"GGUF"

_HUB_SPEC = re.compile(r"(?P<repo>[\w-][\w.-]*/[\w.-]+)(?:/(?P<file>[\w./-]+\.gguf))?")


def resolve_model(
    spec: str | None,
    *,
    download: bool = True,
    progress: ProgressCallback | None = None,
    fetch_part: PartFetcher | None = None,
) -> Path:
    """The GGUF file a model spec names, fetched first when it is a known model not cached yet.

    ``spec`` falls back to ``$LSP_FIM_MODEL``, then to :data:`DEFAULT_MODEL`. It is read as:
    ``auto``, the known model :mod:`lsp_fim.models.auto` picks for this machine (a file named
    so is ``./auto``); an existing path (must be a GGUF file); a known model name; something
    path-like (starts with ``/``, ``.`` or ``~``, or ``NAME.gguf`` / ``DIR/NAME.gguf``), which
    is then a missing file; else a Hugging Face ``OWNER/REPO`` or
    ``OWNER/REPO/PATH/IN/REPO.gguf`` (a bare repo must hold a single GGUF, or a single Q4_K_M
    one). ``OWNER/REPO:FILE`` is not used, since llama.cpp's ``-hf`` gives ``:`` a quantization
    meaning.
    """
    spec = effective_spec(spec)
    if spec == AUTO:
        picked = f" (picked by {AUTO})"
        return _cached_or_pulled(resolve_auto(), download, progress, fetch_part, picked)
    path = Path(spec).expanduser()
    if path.exists():
        return _checked_gguf(path)
    model = known_model(spec)
    if model is not None:
        return _cached_or_pulled(model, download, progress, fetch_part)
    if spec.startswith(("/", ".", "~")) or (spec.endswith(".gguf") and spec.count("/") < 2):
        raise ModelStoreError(f"model file {spec} does not exist; {_spec_help()}")
    hub_spec = _HUB_SPEC.fullmatch(spec)
    if hub_spec is None:
        raise ModelStoreError(f"unknown model {spec!r}; {_spec_help()}")
    return _checked_gguf(hub_file(hub_spec["repo"], hub_spec["file"], download))


def effective_spec(spec: str | None) -> str:
    """``spec``, else ``$LSP_FIM_MODEL``, else :data:`DEFAULT_MODEL`, stripped."""
    return (spec or "").strip() or os.environ.get("LSP_FIM_MODEL", "").strip() or DEFAULT_MODEL


def _cached_or_pulled(
    model: KnownModel,
    download: bool,
    progress: ProgressCallback | None,
    fetch_part: PartFetcher | None,
    picked: str = "",
) -> Path:
    """Trusts a cached file of the right size without hashing it: only a verified file is ever
    renamed into the cache, and hashing on every start would cost seconds."""
    if is_cached(model):
        return cached_path(model)
    if not download:
        raise ModelStoreError(
            f"model {model.name}{picked} is not downloaded; run `lsp-fim model pull {model.name}`"
        )
    return pull_model(model.name, progress=progress, fetch_part=fetch_part)


def _checked_gguf(path: Path) -> Path:
    if not path.is_file():
        raise ModelStoreError(f"model {path} is not a file; give the path of a .gguf file")
    try:
        with path.open("rb") as model_file:
            magic = model_file.read(len(GGUF_MAGIC))
    except OSError as error:
        raise ModelStoreError(f"cannot read model file {path}: {error}") from error
    if magic != GGUF_MAGIC:
        raise ModelStoreError(
            f"{path} is not a GGUF model (it does not start with {GGUF_MAGIC!r}); llama.cpp "
            "needs a .gguf file: download a GGUF build of the model or convert it with "
            "llama.cpp's convert_hf_to_gguf.py"
        )
    return path.absolute()  # not resolve(): a hub snapshot links to a blob named by its hash


def _spec_help() -> str:
    return (
        f"give the path of a .gguf file, a known model name ({known_names()}), or a Hugging "
        "Face repo id OWNER/REPO[/FILE.gguf]"
    )
