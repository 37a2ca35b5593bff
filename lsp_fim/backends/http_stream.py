"""JSON over HTTP to an inference engine: plain requests, and server-sent event streams.

Every fault (refused, unreachable, timed out, an HTTP error status, an event that is not JSON)
becomes a :class:`BackendError` whose message names the URL and, for an error status, quotes
the start of the body: the user has to fix the engine or ``backendUrl``, and needs to see which.

Cancelling a stream shuts its socket down from a watcher thread: a read blocked on an engine
still evaluating a long prompt returns at once, and the engine sees the connection close and
drops the work instead of generating for nobody. The same watcher ends a request that outlives
its deadline.

Nothing an engine sends is trusted to be small or to end: lines, events, answers and whole
streams are read up to a cap, and numbers must be finite. A broken or hostile engine (a line
that never ends, keep-alive comments forever, a body of a gigabyte, JSON nested past Python's
recursion limit) costs one BackendError, not the server's memory or a thread forever.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lsp_fim.backends.base import BackendError, redacted

# An engine that does not accept a connection this fast is down or unreachable; the editor must
# not wait longer to hear it.
CONNECT_TIMEOUT_S = 3.0
# Longest silence between two events (or before the answer): a long prompt on a slow CPU is
# evaluated before the first event comes, and a newer request cancels a stream at any time.
READ_TIMEOUT_S = 60.0
# Longest a whole request may take, events included: an engine that sends keep-alive comments
# (or one token a minute) forever never trips the read timeout. Generous, since a slow CPU
# engine may take a minute on a long prompt and a warm-up reads a whole window.
REQUEST_DEADLINE_S = 180.0
# How often a stream's watcher looks at its cancel flag and the deadline.
CANCEL_POLL_S = 0.02
BODY_EXCERPT_CHARS = 300
# Caps on what is read from an engine. An event is one generated piece and the engine's
# counters (a few hundred bytes); a plain answer is llama-server's /props (its chat template
# included) or a list of models; a stream of thousands of tokens stays far below its cap.
MAX_LINE_BYTES = 1 << 20
MAX_EVENT_BYTES = 1 << 20
MAX_ANSWER_BYTES = 8 << 20
MAX_STREAM_BYTES = 64 << 20
# Of an error answer only the start is quoted, so only that much is read.
MAX_ERROR_BODY_BYTES = 4096
# JSON escapes can carry lone UTF-16 surrogates, which no UTF-8 encoder (tree-sitter's, the
# editor's) accepts: they become U+FFFD like invalid UTF-8 bytes do.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class EngineAddress:
    """Where the engine listens, and the headers every request carries (the API key's among
    them: never logged, never put in a message)."""

    scheme: str
    host: str
    port: int | None
    base_path: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, url: str, api_key: str | None = None) -> EngineAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(
                f"backendUrl {url!r} is not an http:// or https:// address "
                "(example: http://127.0.0.1:8080)"
            )
        try:
            port = parts.port
        except ValueError as error:
            raise BackendError(f"backendUrl {url!r}: {error}") from error
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), headers)

    def url(self, path: str) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{self.host}{port}{self.base_path}{path}"

    def connect(self) -> http.client.HTTPConnection:
        """A connected socket with the short connect timeout, then the long read timeout."""
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        connection = kind(self.host, self.port, timeout=CONNECT_TIMEOUT_S)
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(READ_TIMEOUT_S)
        return connection


def request_json(
    address: EngineAddress, path: str, body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One request (POST with ``body``, else GET) and its answer, a JSON object."""
    url = address.url(path)
    with _exchange(address, path, body, None) as response:
        return _json_object(_read(response, url, MAX_ANSWER_BYTES), url, "the answer")


def stream_events(
    address: EngineAddress, path: str, body: Mapping[str, Any], cancel: threading.Event
) -> Iterator[dict[str, Any]]:
    """The JSON objects of a POST's server-sent events, until the stream ends, ``data: [DONE]``
    arrives, ``cancel`` is set, or the caller stops iterating; the connection is closed then.

    Once ``cancel`` is set nothing is raised: whatever broke was broken on purpose.
    """
    url = address.url(path)
    try:
        with _exchange(address, path, body, cancel) as response:
            for data in _sse_data(response, url):
                if cancel.is_set() or data == "[DONE]":
                    return
                yield _event(data, url)
    except BackendError:
        if not cancel.is_set():
            raise
    except (OSError, http.client.HTTPException) as error:
        if not cancel.is_set():
            raise BackendError(f"{url}: the stream broke off: {_reason(error)}") from error


@contextlib.contextmanager
def _exchange(
    address: EngineAddress,
    path: str,
    body: Mapping[str, Any] | None,
    cancel: threading.Event | None,
) -> Iterator[http.client.HTTPResponse]:
    """The response, once its status says success; the connection is closed afterwards.

    ``cancel`` and the deadline are watched from the start: engines send the status line of a
    stream only with its first event, after evaluating the whole prompt.
    """
    url = address.url(path)
    try:
        connection = address.connect()
    except (OSError, http.client.HTTPException) as error:
        raise BackendError(
            f"cannot reach the inference engine at {url}: {_reason(error)}"
        ) from error
    watch = _Watch(connection.sock, cancel or threading.Event(), REQUEST_DEADLINE_S)
    try:
        with watch:
            try:
                response = _send(connection, address, path, body)
                if not 200 <= response.status < 300:
                    excerpt = _excerpt(_read(response, url, MAX_ERROR_BODY_BYTES, whole=False))
                    raise BackendError(
                        f"{url}: HTTP {response.status} {response.reason}: {excerpt}"
                    )
                with contextlib.closing(response):
                    yield response
            except (OSError, http.client.HTTPException, BackendError) as error:
                if watch.expired:
                    raise _past_deadline(url) from error
                raise
            if watch.expired:  # the shut socket read as the end of the stream
                raise _past_deadline(url)
    finally:
        connection.close()


def _past_deadline(url: str) -> BackendError:
    return BackendError(f"{url}: no complete answer within {REQUEST_DEADLINE_S:g} s")


def _send(
    connection: http.client.HTTPConnection,
    address: EngineAddress,
    path: str,
    body: Mapping[str, Any] | None,
) -> http.client.HTTPResponse:
    headers = {"Accept": "application/json, text/event-stream", **address.headers}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        connection.request(
            "GET" if body is None else "POST", address.base_path + path, payload, headers
        )
        return connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        raise BackendError(f"{address.url(path)}: no answer: {_reason(error)}") from error


def _read(response: http.client.HTTPResponse, url: str, limit: int, whole: bool = True) -> str:
    """At most ``limit`` bytes of the body; more is an error where the ``whole`` is needed."""
    try:
        data = response.read(limit + 1)
    except (OSError, http.client.HTTPException) as error:
        raise BackendError(f"{url}: the answer broke off: {_reason(error)}") from error
    if len(data) > limit and whole:
        raise BackendError(f"{url}: the answer is longer than {limit} bytes")
    return data[:limit].decode("utf-8", errors="replace")


def _sse_data(response: http.client.HTTPResponse, url: str) -> Iterator[str]:
    """The data of each event (its ``data:`` lines joined), as the SSE format defines it:
    comments (``:``, llama-server's keep-alive pings) and other fields are skipped."""
    lines: list[str] = []
    event_bytes = stream_bytes = 0
    while raw := response.readline(MAX_LINE_BYTES + 1):
        stream_bytes += len(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise BackendError(f"{url}: a line of the stream is longer than {MAX_LINE_BYTES} bytes")
        if stream_bytes > MAX_STREAM_BYTES:
            raise BackendError(f"{url}: the stream is longer than {MAX_STREAM_BYTES} bytes")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
            lines, event_bytes = [], 0
        elif line.startswith("data:"):
            event_bytes += len(raw)
            if event_bytes > MAX_EVENT_BYTES:
                raise BackendError(f"{url}: an event is longer than {MAX_EVENT_BYTES} bytes")
            lines.append(line.removeprefix("data:").removeprefix(" "))
    if lines:
        yield "\n".join(lines)


def _event(data: str, url: str) -> dict[str, Any]:
    """An event as JSON; an ``error`` event (sent after the stream began) is raised."""
    event = _json_object(data, url, "an event")
    if "error" in event:
        raise BackendError(f"{url}: the engine reported an error: {_excerpt(data)}")
    return event


def _json_object(data: str, url: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as error:  # nested deeper than the parser goes
        raise BackendError(f"{url}: {what} is not JSON: {_excerpt(data)}") from error
    if not isinstance(value, dict):
        raise BackendError(f"{url}: {what} is not a JSON object: {_excerpt(data)}")
    return value


def field_number(data: Mapping[str, Any], key: str, default: float) -> float:
    """``data[key]`` (``default`` if absent), which must be a finite number: JSON parsers
    read ``1e999`` as infinity and accept ``NaN``, which no count or time can be."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BackendError(f"malformed answer: {key} is {_excerpt(repr(value))}, not a number")
    return value


def field_text(data: Mapping[str, Any], key: str) -> str:
    """``data[key]`` ("" if absent), which must be text; lone surrogates become U+FFFD."""
    value = data.get(key, "")
    if not isinstance(value, str):
        raise BackendError(f"malformed answer: {key} is {_excerpt(repr(value))}, not text")
    return LONE_SURROGATE.sub("\ufffd", value)


def _excerpt(text: str) -> str:
    """Secrets are redacted before the cut, which could otherwise leave half a key behind."""
    flat = " ".join(redacted(text).split())
    return flat if len(flat) <= BODY_EXCERPT_CHARS else flat[:BODY_EXCERPT_CHARS] + "…"


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__


class _Watch:
    """While a request runs, shuts its socket down once ``cancel`` is set or the deadline
    passes (``expired`` then tells the reading thread why its stream ended).

    Only ``shutdown`` crosses threads: it wakes the blocked read, which then sees the end of
    the stream; the reading thread closes the connection itself.
    """

    def __init__(
        self, sock: socket.socket | None, cancel: threading.Event, deadline_s: float
    ) -> None:
        self._socket = sock
        self._cancel = cancel
        self._deadline = time.monotonic() + deadline_s
        self.expired = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="lsp-fim-cancel", daemon=True)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self._cancel.wait(CANCEL_POLL_S):
                self._shut_down()
                return
            if time.monotonic() > self._deadline:
                self.expired = True
                self._shut_down()
                return

    def _shut_down(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
