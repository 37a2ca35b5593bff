"""Hostile inference engines on loopback: each sends what a broken or malicious engine could
(a line that never ends, keep-alive comments forever, a gigabyte, invalid UTF-8, JSON nested
past the parser's limit, infinite counts, more tokens than asked, silence mid-stream). Every
one costs a BackendError or a bounded answer: no hang, no unbounded memory, no thread left."""

from __future__ import annotations

import itertools
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator

import pytest

from lsp_fim.backends import http_stream
from lsp_fim.backends.base import BackendError, FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.http_backend import HttpBackend
from lsp_fim.backends.http_stream import EngineAddress, request_json, stream_events
from lsp_fim.backends.llama_server import InfillApi, LlamaServerVocabulary

PATH = "/infill"
GIB = 1 << 30
# The most any script sends, so that a client without caps ends too (and its test fails)
# instead of exhausting the machine.
SEND_LIMIT = 256 << 20
STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
Script = Callable[[], Iterator[bytes]]


class RawEngine:
    """Answers every request with the bytes ``script`` yields, sent as they come, unframed
    (the response ends when the connection closes). Counts what it sent."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self.sent = 0
        self.closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> EngineAddress:
        return EngineAddress.parse(f"http://127.0.0.1:{self._listener.getsockname()[1]}")

    def __enter__(self) -> RawEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:
            return
        with connection:
            _read_request(connection)
            try:
                for chunk in self._script():
                    if self._stop.is_set() or self.sent >= SEND_LIMIT:
                        break
                    connection.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                pass
        self.closed.set()


def _read_request(connection: socket.socket) -> None:
    """Headers and the Content-Length body, read and dropped."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += connection.recv(65536)


def raw(*chunks: bytes, then: Iterable[bytes] = ()) -> Script:
    return lambda: itertools.chain(chunks, then)


def stream_of(*events: bytes, then: Iterable[bytes] = ()) -> Script:
    return raw(STREAM_HEAD, *events, then=then)


def hang(seconds: float = 10.0) -> Iterator[bytes]:
    """Silence for ``seconds``, then the end of the stream."""
    time.sleep(seconds)
    yield b""


def drip(chunk: bytes, every_s: float, times: int) -> Iterator[bytes]:
    """``chunk`` every ``every_s``, ``times`` times: long enough that only a client that stops
    reading by itself passes."""
    for _ in range(times):
        time.sleep(every_s)
        yield chunk


def generate(engine: RawEngine, max_tokens: int = 16) -> list[str]:
    address = engine.address
    backend = HttpBackend(address, InfillApi(address), LlamaServerVocabulary(address))
    request = GenerationRequest(FimPrompt((), "", ""), max_tokens, (), threading.Event())
    return list(backend.stream(request, GenerationStats()))


def events(engine: RawEngine) -> list[dict[str, object]]:
    return list(stream_events(engine.address, PATH, {}, threading.Event()))


@pytest.fixture(autouse=True)
def no_watcher_left() -> Iterator[None]:
    yield
    time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name == "lsp-fim-cancel"]


def test_a_line_that_never_ends_is_cut_at_the_line_cap() -> None:
    endless = itertools.repeat(b"a" * 65536)
    with RawEngine(stream_of(b'data: {"content": "', then=endless)) as engine:
        with pytest.raises(BackendError, match="line of the stream is longer than"):
            events(engine)
        assert engine.closed.wait(5)
    assert engine.sent < 32 << 20  # the line cap, and what the sockets' buffers took


def test_keep_alive_comments_forever_meet_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each comment comes well within the read timeout, so only the deadline ends it."""
    monkeypatch.setattr(http_stream, "REQUEST_DEADLINE_S", 0.5)
    with RawEngine(stream_of(then=drip(b": ping\n\n", 0.01, 1000))) as engine:
        started = time.perf_counter()
        with pytest.raises(BackendError, match=r"no complete answer within 0\.5 s"):
            events(engine)
        assert time.perf_counter() - started < 3
        assert engine.closed.wait(5)


def test_a_hang_mid_stream_meets_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_stream, "REQUEST_DEADLINE_S", 0.5)
    first = b'data: {"content": "a", "stop": false}\n\n'
    with RawEngine(stream_of(first, then=hang())) as engine:
        started = time.perf_counter()
        with pytest.raises(BackendError, match="no complete answer within"):
            generate(engine)
        assert time.perf_counter() - started < 3


def test_a_gigabyte_stream_of_events_is_cut_at_the_stream_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_stream, "MAX_STREAM_BYTES", 1 << 20)
    event = b'data: {"content": "", "stop": false}\n\n'
    with RawEngine(stream_of(then=itertools.repeat(event * 1000, GIB // 38_000))) as engine:
        with pytest.raises(BackendError, match="stream is longer than"):
            events(engine)
        assert engine.closed.wait(5)
    assert engine.sent < 64 << 20


def gigabyte_answer(status: bytes) -> Script:
    head = b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % GIB
    return raw(head, then=itertools.repeat(b"x" * 65536, GIB // 65536))


def test_a_gigabyte_answer_is_refused_in_bounded_memory() -> None:
    with RawEngine(gigabyte_answer(b"200 OK")) as engine:
        tracemalloc.start()
        try:
            with pytest.raises(BackendError, match="answer is longer than"):
                request_json(engine.address, "/props")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert engine.closed.wait(5)
    assert peak < 4 * http_stream.MAX_ANSWER_BYTES
    assert engine.sent < 48 << 20


def test_a_gigabyte_error_body_is_quoted_from_its_start_only() -> None:
    with RawEngine(gigabyte_answer(b"500 Internal Server Error")) as engine:
        with pytest.raises(BackendError, match="HTTP 500") as raised:
            request_json(engine.address, "/props")
        assert engine.closed.wait(5)
    assert len(str(raised.value)) < 1000
    assert engine.sent < 32 << 20


def test_invalid_utf8_and_lone_surrogates_become_replacement_characters() -> None:
    pieces = (
        b'data: {"content": "a\xff\xfeb", "stop": false}\n\n',
        b'data: {"content": "c\\ud800d\\udc00", "stop": false}\n\n',
        b'data: {"content": "\\ud83d\\ude00", "stop": true}\n\n',
    )
    with RawEngine(stream_of(*pieces)) as engine:
        text = "".join(generate(engine))
    assert text == "a\ufffd\ufffdbc\ufffdd\ufffd\U0001f600"
    text.encode("utf-8")  # what tree-sitter and the editor need


@pytest.mark.parametrize("where", ["event", "answer"])
def test_json_nested_past_the_parser_limit_is_malformed(where: str) -> None:
    nested = b"[" * 200_000 + b"]" * 200_000
    if where == "event":
        with (
            RawEngine(stream_of(b"data: " + nested + b"\n\n")) as engine,
            pytest.raises(BackendError, match="an event is not JSON"),
        ):
            events(engine)
    else:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(nested)
        with (
            RawEngine(raw(head, nested)) as engine,
            pytest.raises(BackendError, match="the answer is not JSON"),
        ):
            request_json(engine.address, "/props")


@pytest.mark.parametrize("count", [b"1e999", b"-1e999", b"NaN", b"Infinity"])
def test_infinite_and_nan_counts_are_malformed(count: bytes) -> None:
    event = b'data: {"content": "a", "stop": false, "tokens_predicted": ' + count + b"}\n\n"
    with (
        RawEngine(stream_of(event)) as engine,
        pytest.raises(BackendError, match=r"tokens_predicted is .*, not a number"),
    ):
        generate(engine)


def test_a_stream_that_ignores_n_predict_ends_at_max_tokens_here() -> None:
    """No finish reason ever comes: the stream is ended here, as complete, after the pieces
    asked for, and the connection closed."""
    event = b'data: {"content": "x", "stop": false}\n\n'
    with RawEngine(stream_of(then=drip(event, 0.001, 3000))) as engine:
        assert generate(engine, max_tokens=5) == ["x"] * 5
        assert engine.closed.wait(5)
    assert engine.sent < 100 * len(event)


def test_a_warm_up_that_generates_on_is_left_after_one_piece() -> None:
    event = b'data: {"content": "x", "stop": false}\n\n'
    with RawEngine(stream_of(then=drip(event, 0.001, 3000))) as engine:
        address = engine.address
        backend = HttpBackend(address, InfillApi(address), LlamaServerVocabulary(address))
        assert backend.prefill(FimPrompt((), "", ""), threading.Event(), GenerationStats())
        assert engine.closed.wait(5)
    assert engine.sent < 100 * len(event)
