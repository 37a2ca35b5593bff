"""The :class:`~lsp_fim.backends.base.Backend` protocol over an inference engine's HTTP API.

One class serves every engine API: it estimates token counts, streams the pieces through the
stop-string filter, and times what the engine does not time itself. What to send and what an
event means is the :class:`EngineApi`'s business (``llama_server``, ``openai_completions``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from lsp_fim.backends.base import (
    BackendError,
    FimPrompt,
    GenerationRequest,
    GenerationStats,
    Vocabulary,
)
from lsp_fim.backends.http_stream import EngineAddress, stream_events
from lsp_fim.backends.stop_text import StopTextFilter

# Token counts only budget the context windows, line by line: hundreds of counts per request,
# which over HTTP (/tokenize) would cost a round trip each, more than the generation on a
# remote engine. At 3.5 characters a token, counted line by line as the windows do, the
# estimate is 0.98-1.35 times the true count of Qwen2.5-Coder's tokenizer (llama-server's
# /tokenize) on Python, C and C++ (this repository, llama.cpp): windows stay within their
# budget (2 % over at worst) and fill three quarters of it or more.
CHARS_PER_TOKEN = 3.5
# A warm-up asks for no token; llama-server still samples one. An engine that goes on has
# ignored ``n_predict``, and is not listened to further.
WARM_UP_PIECES = 1

Request = tuple[str, dict[str, Any]]  # path, JSON body


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class EngineApi(Protocol):
    """One engine API: the requests to send, and what its stream events mean."""

    path: str  # where generations are sent, relative to the engine's base URL

    def generation(self, prompt: FimPrompt, max_tokens: int, stop: tuple[str, ...]) -> Request:
        """A greedy, streamed generation of at most ``max_tokens`` tokens."""

    def warm_up(self, prompt: FimPrompt) -> Request | None:
        """A streamed request that puts ``prompt`` in the engine's cache and generates (next
        to) nothing; None where the API has no such thing."""

    def read_event(self, event: Mapping[str, Any], stats: GenerationStats) -> str:
        """The text one event brings; records in ``stats`` the counts the engine reports."""

    def ends_generation(self, event: Mapping[str, Any]) -> bool:
        """Whether the engine says with this event that the generation is over (a finish
        reason): a stream that closes without one was cut off, not finished."""

    def reset_cache(self) -> None:
        """Make the next request start from an empty cache, where the API allows it."""


class HttpBackend:
    def __init__(self, address: EngineAddress, api: EngineApi, vocabulary: Vocabulary) -> None:
        self.address = address
        self.api = api
        self._vocabulary = vocabulary

    @property
    def vocabulary(self) -> Vocabulary:
        return self._vocabulary

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def reset_cache(self) -> None:
        self.api.reset_cache()

    def prefill(self, prompt: FimPrompt, cancel: threading.Event, stats: GenerationStats) -> bool:
        """Like the llama.vim plugin, which warms llama-server's cache the same way. A
        cancelled warm-up closes its connection; the engine finishes the batch it is on."""
        request = self.api.warm_up(prompt)
        if request is not None:
            pieces = 0
            for event in stream_events(self.address, *request, cancel):
                pieces += bool(self._read(event, stats, request[0]))
                if pieces > WARM_UP_PIECES:
                    break
        return not cancel.is_set()

    def stream(self, request: GenerationRequest, stats: GenerationStats) -> Iterator[str]:
        """Stop strings are also sent to the engine; they are filtered here as well because
        not every engine honours all of them (OpenAI's API takes at most four). So is the
        token limit: a piece past ``max_tokens`` pieces (or tokens the engine reports) ends
        the stream, whatever the engine does with the limit; one that keeps it is read to its
        end, where OpenAI's ``usage`` comes."""
        path, body = self.api.generation(request.prompt, request.max_tokens, request.stop)
        clock = _ClientClock()
        text_filter = StopTextFilter(request.stop)
        finished = False
        pieces = 0
        for event in stream_events(self.address, path, body, request.cancel):
            clock.time(stats)
            finished = finished or self.api.ends_generation(event)
            text = self._read(event, stats, path)
            pieces += bool(text)
            if max(pieces, stats.generated_tokens) > request.max_tokens:
                finished = True  # the engine ignored n_predict: what it owed has come
                break
            piece = text_filter.push(text)
            if piece:
                yield piece
            if text_filter.stopped:
                return
        if request.cancel.is_set():
            return
        if not finished:
            # Else the half-written text would pass for the model's whole answer, and be cached.
            raise BackendError(
                f"{self.address.url(path)}: the stream ended before the generation did (no "
                "finish reason): the engine cut it off, e.g. llama-cpp-python's server when "
                "another request arrives unless started with --interrupt_requests False"
            )
        if rest := text_filter.flush():
            yield rest

    def _read(self, event: Mapping[str, Any], stats: GenerationStats, path: str) -> str:
        try:
            return self.api.read_event(event, stats)
        except BackendError as error:
            raise BackendError(f"{self.address.url(path)}: {error}") from error


class _ClientClock:
    """Prompt time until the first event, generation time since, as seen from here: for
    engines that do not time themselves. Once the engine's own timings replaced what this
    wrote, they stand."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._first_event: float | None = None
        self._written: tuple[float, float] | None = None

    def time(self, stats: GenerationStats) -> None:
        if self._written not in (None, (stats.prompt_ms, stats.generate_ms)):
            return
        now = time.perf_counter()
        if self._first_event is None:
            self._first_event = now
        stats.prompt_ms = (self._first_event - self._started) * 1000
        stats.generate_ms = (now - self._first_event) * 1000
        self._written = (stats.prompt_ms, stats.generate_ms)
