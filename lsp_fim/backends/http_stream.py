"""JSON over HTTP to an inference engine: plain requests, and server-sent event streams.

Every fault (refused, unreachable, timed out, an HTTP error status, an event that is not JSON)
becomes a :class:`BackendError` whose message names the URL and, for an error status, quotes
the start of the body: the user has to fix the engine or ``backendUrl``, and needs to see which.

Cancelling a stream shuts its socket down from a watcher thread: a read blocked on an engine
still evaluating a long prompt returns at once, and the engine sees the connection close and
drops the work instead of generating for nobody.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lsp_fim.backends.base import BackendError

# An engine that does not accept a connection this fast is down or unreachable; the editor must
# not wait longer to hear it.
CONNECT_TIMEOUT_S = 3.0
# Longest silence between two events (or before the answer): a long prompt on a slow CPU is
# evaluated before the first event comes, and a newer request cancels a stream at any time.
READ_TIMEOUT_S = 60.0
# How often a stream's watcher looks at its cancel flag.
CANCEL_POLL_S = 0.02
BODY_EXCERPT_CHARS = 300


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
        return _json_object(_read(response, url), url, "the answer")


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
            for data in _sse_data(response):
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

    ``cancel`` is watched from the start: engines send the status line of a stream only with
    its first event, after evaluating the whole prompt.
    """
    url = address.url(path)
    try:
        connection = address.connect()
    except (OSError, http.client.HTTPException) as error:
        raise BackendError(
            f"cannot reach the inference engine at {url}: {_reason(error)}"
        ) from error
    watch = (
        _CancelWatch(connection.sock, cancel) if cancel is not None else contextlib.nullcontext()
    )
    try:
        with watch:
            response = _send(connection, address, path, body)
            if not 200 <= response.status < 300:
                excerpt = _excerpt(_read(response, url))
                raise BackendError(f"{url}: HTTP {response.status} {response.reason}: {excerpt}")
            with contextlib.closing(response):
                yield response
    finally:
        connection.close()


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


def _read(response: http.client.HTTPResponse, url: str) -> str:
    try:
        return response.read().decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException) as error:
        raise BackendError(f"{url}: the answer broke off: {_reason(error)}") from error


def _sse_data(response: http.client.HTTPResponse) -> Iterator[str]:
    """The data of each event (its ``data:`` lines joined), as the SSE format defines it:
    comments (``:``, llama-server's keep-alive pings) and other fields are skipped."""
    lines: list[str] = []
    while raw := response.readline():
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
            lines = []
        elif line.startswith("data:"):
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
    except ValueError as error:
        raise BackendError(f"{url}: {what} is not JSON: {_excerpt(data)}") from error
    if not isinstance(value, dict):
        raise BackendError(f"{url}: {what} is not a JSON object: {_excerpt(data)}")
    return value


def field_number(data: Mapping[str, Any], key: str, default: float) -> float:
    """``data[key]`` (``default`` if absent), which must be a number."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BackendError(f"malformed answer: {key} is {value!r}, not a number")
    return value


def field_text(data: Mapping[str, Any], key: str) -> str:
    """``data[key]`` ("" if absent), which must be text."""
    value = data.get(key, "")
    if not isinstance(value, str):
        raise BackendError(f"malformed answer: {key} is {value!r}, not text")
    return value


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= BODY_EXCERPT_CHARS else flat[:BODY_EXCERPT_CHARS] + "…"


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__


class _CancelWatch:
    """While a request runs, shuts its socket down once ``cancel`` is set.

    Only ``shutdown`` crosses threads: it wakes the blocked read, which then sees the end of
    the stream; the reading thread closes the connection itself.
    """

    def __init__(self, sock: socket.socket | None, cancel: threading.Event) -> None:
        self._socket = sock
        self._cancel = cancel
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="lsp-fim-cancel", daemon=True)

    def __enter__(self) -> _CancelWatch:
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

    def _shut_down(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
