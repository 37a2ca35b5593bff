"""What a FIM prompt is made of, apart from how any one model family lays it out: the
template renders these (:mod:`lsp_fim.templates`), the context gathers them
(:mod:`lsp_fim.context`) and the backends tokenize them (:mod:`lsp_fim.backends`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContextFile:
    """Another file of the project, given to families whose prompts can carry several files."""

    path: str
    text: str


@dataclass(frozen=True)
class PromptPiece:
    """A stretch of a rendered prompt: one of the template's markers (special tokens parsed), or
    text, which is tokenized as text whatever it contains."""

    text: str
    marker: bool
