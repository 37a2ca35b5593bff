"""The :class:`~lsp_fim.backends.base.Backend` protocol over an inference engine's HTTP API.

One class serves every engine API: it estimates token counts, streams the pieces through the
stop-string filter, and times what the engine does not time itself. What to send and what an
event means is the :class:`EngineApi`'s business (``llama_server``, ``openai_completions``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lsp_fim.backends.base import (
    RUNNERS_UP,
    BackendError,
    FimPrompt,
    GenerationRequest,
    GenerationStats,
    TokenChoice,
    Vocabulary,
)
from lsp_fim.backends.http_stream import LONE_SURROGATE, EngineAddress, stream_events
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
# What is read of an engine's token probabilities, whatever it sends: tokens in one event,
# candidates for one token, and the length of a candidate's text (a token is a few characters;
# a long run of blanks is one of the longest).
MAX_EVENT_TOKENS = 64
MAX_CANDIDATES = 8
MAX_TOKEN_CHARS = 1024

Request = tuple[str, dict[str, Any]]  # path, JSON body


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class TokenLogprobs:
    """A generated token as an engine reports it: its text, its log-probability, and the
    candidates the engine lists with it (text, log-probability; the token itself may be one)."""

    text: str
    logprob: float
    candidates: tuple[tuple[str, float], ...] = ()


def logprob_from(value: Any) -> float | None:
    """A log-probability sent by an engine: a finite number, at most 0 (a positive one, which
    rounding may give a certain token, counts as 0); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(float(value), 0.0)


def token_text_from(value: Any) -> str | None:
    """A token's text sent by an engine: text no longer than a token can be, else None."""
    if not isinstance(value, str) or len(value) > MAX_TOKEN_CHARS:
        return None
    return LONE_SURROGATE.sub("\ufffd", value)


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

    def read_tokens(self, event: Mapping[str, Any]) -> list[TokenLogprobs] | None:
        """The tokens of the event's text with their probabilities, in order (at most
        ``MAX_EVENT_TOKENS``); None where the event carries none that read."""

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
        choices = _ChoiceRecorder(stats, request.stop, request.max_tokens)
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
            choices.add(text, self.api.read_tokens(event))
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


class _ChoiceRecorder:
    """Fills ``stats.choices`` from the tokens the engine reports with each event's text: for
    the whole text or not at all (an event with text but no tokens, or more tokens than asked
    for, empties it for the rest of the stream), since a token left out would move where the
    runners-up of the next ones branch off. A token's end counts the characters of the events'
    texts; its runners-up are the best candidates that are text of their own: not the token
    itself, not a part of a character, not an end of the generation (a stop string)."""

    def __init__(self, stats: GenerationStats, stop: tuple[str, ...], max_tokens: int) -> None:
        self._stats = stats
        self._stop = tuple(s for s in stop if s)
        self._max_tokens = max_tokens
        self._chars = 0
        self._broken = False

    def add(self, text: str, tokens: Sequence[TokenLogprobs] | None) -> None:
        start, self._chars = self._chars, self._chars + len(text)
        if self._broken or not (text or tokens):
            return
        if not tokens or len(self._stats.choices) + len(tokens) > self._max_tokens:
            self._broken = True
            self._stats.choices.clear()
            return
        end = start
        for token in tokens[:-1]:
            end = min(end + len(token.text), self._chars)
            self._stats.choices.append(TokenChoice(end, token.logprob, self._runners_up(token)))
        last = tokens[-1]
        self._stats.choices.append(TokenChoice(self._chars, last.logprob, self._runners_up(last)))

    def _runners_up(self, token: TokenLogprobs) -> tuple[tuple[str, float], ...]:
        kept: dict[str, float] = {}
        for text, logprob in sorted(token.candidates, key=lambda candidate: -candidate[1]):
            if text not in kept and self._is_own_text(text, token.text):
                kept[text] = logprob
        return tuple(kept.items())[:RUNNERS_UP]

    def _is_own_text(self, text: str, chosen: str) -> bool:
        return (
            bool(text)
            and text != chosen
            and "\ufffd" not in text
            and not any(stop in text for stop in self._stop)
        )


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
