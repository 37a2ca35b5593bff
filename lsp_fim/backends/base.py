"""What the engine needs from an inference backend, whatever runs the model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from lsp_fim.prompt import ContextFile, PromptPiece

REDACTED = "[redacted]"
# Values no error message may show (API keys): an engine may echo a request's headers in its
# error body, which messages quote, and messages reach logs and the editor's windows.
_secrets: set[str] = set()


def keep_secret(value: str) -> None:
    """From now on ``value`` (and its JSON-escaped spelling) is redacted from every message."""
    _secrets.update({value, json.dumps(value)[1:-1]} - {""})


def redacted(text: str) -> str:
    """``text`` with every kept secret replaced, longest first (one may contain another)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class BackendError(RuntimeError):
    """A fault the user can fix (missing model, unreachable engine); the message says how.

    Whatever the message quotes, kept secrets are redacted from it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redacted(message))


@dataclass(frozen=True)
class FimPrompt:
    """A FIM prompt in both forms an engine may want: ``pieces`` rendered with our template
    (BOS included), and the window it was rendered from, for engines that lay out FIM prompts
    themselves (llama-server's ``/infill``)."""

    pieces: tuple[PromptPiece, ...]
    prefix: str
    suffix: str
    # Other files' code, in ``pieces`` where the template has a multi-file form.
    extra_files: tuple[ContextFile, ...] = ()
    # The suggestion's first characters, given (an alternative's start): the last of
    # ``pieces``, and what engines that lay out the prompt themselves must add after it.
    started: str = ""

    @property
    def text(self) -> str:
        """The prompt as one text, markers and user text alike: for engines that take only
        text (OpenAI-compatible completions), and for logs."""
        return "".join(piece.text for piece in self.pieces)


@dataclass(frozen=True)
class GenerationRequest:
    """One FIM generation: the prompt and how far the model may go."""

    prompt: FimPrompt
    max_tokens: int
    stop: tuple[str, ...]
    cancel: threading.Event
    # Work ahead of the editor: every changed prompt token is evaluated (nothing reused
    # approximately), and cancelling also abandons the prompt between batches.
    background: bool = False


# The next most likely tokens kept with every generated one, whichever backend generated it:
# where a suggestion branches into alternatives (the editor asks for up to 3).
RUNNERS_UP = 2


@dataclass(frozen=True)
class TokenChoice:
    """A generated token as the model weighed it, for the suggestion's confidence and for
    alternatives: where its text ends in the generated text (code points), its
    log-probability, and the runners-up it was chosen over (text, log-probability), best first.
    """

    end: int
    logprob: float
    runners_up: tuple[tuple[str, float], ...] = ()


@dataclass
class GenerationStats:
    """Filled in by the backend while it streams; read by the engine for logs and JSON."""

    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    generated_tokens: int = 0
    prompt_ms: float = 0.0
    generate_ms: float = 0.0
    # Speculative decoding: decodes that checked drafted tokens, the tokens drafted, and those
    # of them the model agreed with (each saved a decode).
    verifications: int = 0
    draft_tokens: int = 0
    accepted_draft_tokens: int = 0
    # Every generated token in order, where the backend knows its probability (the embedded
    # one); empty otherwise.
    choices: list[TokenChoice] = field(default_factory=list)


class Vocabulary(Protocol):
    """The model facts that FIM template detection reads."""

    @property
    def metadata(self) -> Mapping[str, str]:
        """GGUF key/value metadata, values as strings."""

    def token_text(self, token_id: int) -> str:
        """The text of one vocabulary entry, special tokens included."""

    def is_single_token(self, text: str) -> bool:
        """Whether ``text`` is one (special) token in this vocabulary."""


class Backend(Protocol):
    @property
    def vocabulary(self) -> Vocabulary: ...

    def count_tokens(self, text: str) -> int:
        """Model tokens in ``text``; used to budget the context windows."""

    def prefill(self, prompt: FimPrompt, cancel: threading.Event, stats: GenerationStats) -> bool:
        """Evaluate ``prompt`` ahead of the request that will need it; False if cancelled."""

    def stream(self, request: GenerationRequest, stats: GenerationStats) -> Iterator[str]:
        """Yields text pieces as the model produces them; stops when ``request.cancel`` is set.

        Stop strings end the stream and are never yielded.
        """
