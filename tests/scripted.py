"""A backend and a template with no model behind them, for engine-level tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from lsp_fim.backends.base import FimPrompt, GenerationRequest, GenerationStats, TokenChoice
from lsp_fim.prompt import PromptPiece


class ScriptedBackend:
    """Answers every prompt that contains one of ``answers``' keys with that key's pieces."""

    vocabulary = None

    def __init__(self, answers: dict[str, list[str]], seconds_per_piece: float = 0.0) -> None:
        self.answers = answers
        self.resets = 0
        self.seconds_per_piece = seconds_per_piece

    def reset_cache(self) -> None:
        self.resets += 1

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def stream(self, request: GenerationRequest, stats: GenerationStats) -> Iterator[str]:
        stats.prompt_tokens = stats.prompt_tokens_evaluated = self.count_tokens(request.prompt.text)
        pieces = next(
            (pieces for marker, pieces in self.answers.items() if marker in request.prompt.text), []
        )
        for piece in pieces:
            time.sleep(self.seconds_per_piece)
            stats.generated_tokens += 1
            yield piece

    def prefill(self, prompt: FimPrompt, cancel: threading.Event, stats: GenerationStats) -> bool:
        stats.prompt_tokens = stats.prompt_tokens_evaluated = self.count_tokens(prompt.text)
        return not cancel.is_set()


class PlainTemplate:
    name = "plain"
    stop: tuple[str, ...] = ()
    special_tokens: tuple[str, ...] = ()

    def render_pieces(self, prefix: str, suffix: str, **project: object) -> tuple[PromptPiece, ...]:
        return (
            PromptPiece("<pre>", marker=True),
            PromptPiece(prefix, marker=False),
            PromptPiece("<suf>", marker=True),
            PromptPiece(suffix, marker=False),
            PromptPiece("<mid>", marker=True),
        )


Scored = tuple[str, float, tuple[tuple[str, float], ...]]


class ScoredBackend(ScriptedBackend):
    """Says how sure it was of every piece, as the embedded backend does: ``scripts`` maps
    what the prompt gives after the middle marker (an alternative's start; "" at first) to
    (piece, log-probability, runners-up) triples. Records the prompts it was given."""

    def __init__(self, scripts: dict[str, list[Scored]]) -> None:
        super().__init__({})
        self.scripts = scripts
        self.prompts: list[str] = []

    def stream(self, request: GenerationRequest, stats: GenerationStats) -> Iterator[str]:
        self.prompts.append(request.prompt.text)
        stats.prompt_tokens = stats.prompt_tokens_evaluated = self.count_tokens(request.prompt.text)
        end = 0
        for piece, logprob, runners_up in self.scripts.get(
            request.prompt.text.split("<mid>")[-1], []
        ):
            end += len(piece)
            stats.generated_tokens += 1
            stats.choices.append(TokenChoice(end, logprob, runners_up))
            yield piece
