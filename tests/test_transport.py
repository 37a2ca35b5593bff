"""LSP framing, fed scripted bytes: bounded, resynchronising, every request answered."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from typing import Any

import pytest
from pygls.lsp.server import LanguageServer

from lsp_fim import transport
from lsp_fim.loopback import is_loopback
from lsp_fim.transport import FrameReader, FramingError, StdinSource, serve_messages


def frame(message: dict[str, Any] | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def reader(data: bytes) -> FrameReader:
    return FrameReader(StdinSource(io.BytesIO(data)))


async def bodies(data: bytes) -> list[bytes | str]:
    """Every body read, or the framing error's text, until the end."""
    frames = reader(data)
    read: list[bytes | str] = []
    while True:
        try:
            body = await frames.read_body()
        except FramingError as error:
            read.append(str(error))
            continue
        if body is None:
            return read
        read.append(body)


async def test_frames_with_any_header_case_and_content_type_are_read() -> None:
    data = (
        b"content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}"
        + frame(b"[1]")
    )
    assert await bodies(data) == [b"{}", b"[1]"]


async def test_a_header_line_longer_than_the_limit_is_not_read_whole() -> None:
    data = b"X" * (transport.MAX_HEADER_LINE_BYTES * 40) + b"\r\n\r\n" + frame(b"{}")
    read = await bodies(data)
    assert read[-1] == b"{}"
    assert any("header lines" in str(item) for item in read)


async def test_an_oversized_content_length_is_refused_unread() -> None:
    huge = transport.MAX_CONTENT_LENGTH + 1
    read = await bodies(f"Content-Length: {huge}\r\n\r\n".encode() + frame(b"{}"))
    assert "over" in str(read[0])
    assert read[-1] == b"{}"


class RecordingProtocol:
    """What serve_messages hands on and what it answers, without a server."""

    VERSION = "2.0"

    def __init__(self) -> None:
        self.server = LanguageServer("test", "0")
        self.handled: list[Any] = []
        self.answers: list[tuple[Any, Any]] = []

    def structure_message(self, data: dict[str, Any]) -> Any:
        return self.server.protocol.structure_message(data)

    def handle_message(self, message: Any) -> None:
        self.handled.append(message)

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        self.answers.append((msg_id, error))


async def serve(data: bytes) -> RecordingProtocol:
    protocol = RecordingProtocol()
    await serve_messages(reader(data), protocol, threading.Event())  # type: ignore[arg-type]
    return protocol


def inline_request(request_id: int, position: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "textDocument/inlineCompletion",
        "params": {
            "textDocument": {"uri": "file:///a.py"},
            "position": position,
            "context": {"triggerKind": 1},
        },
    }


async def test_params_that_do_not_deserialize_get_invalid_params() -> None:
    protocol = await serve(frame(inline_request(7, {"line": "four", "character": None})))
    assert not protocol.handled
    [(request_id, error)] = protocol.answers
    assert request_id == 7 and error.code == -32602


async def test_a_body_that_is_not_json_gets_a_parse_error_and_the_next_request_is_served() -> None:
    good = inline_request(2, {"line": 0, "character": 0})
    protocol = await serve(frame(b"{not json") + frame(good))
    assert protocol.answers[0][1].code == -32700
    assert [message.id for message in protocol.handled] == [2]


async def test_a_body_framed_too_long_gives_back_the_requests_inside_it() -> None:
    """Content-Length larger than the body: the next message is read as part of its body;
    the reader finds it there instead of losing it."""
    first, second = inline_request(1, {"line": 0, "character": 0}), inline_request(2, {
        "line": 0,
        "character": 1,
    })
    body = json.dumps(first).encode()
    data = f"Content-Length: {len(body) + 40}\r\n\r\n".encode() + body + frame(second)
    data += frame(inline_request(3, {"line": 0, "character": 2}))
    protocol = await serve(data)
    assert [message.id for message in protocol.handled] == [1, 2, 3]
    assert not protocol.answers


async def test_a_body_framed_too_short_costs_one_message_only() -> None:
    body = json.dumps(inline_request(1, {"line": 0, "character": 0})).encode()
    data = f"Content-Length: {len(body) - 5}\r\n\r\n".encode() + body
    data += frame(inline_request(2, {"line": 0, "character": 1}))
    protocol = await serve(data)
    assert [message.id for message in protocol.handled] == [2]


@pytest.mark.parametrize(
    "message",
    [[1, 2], "text", {"id": 4, "method": "x"}, {"jsonrpc": "1.0", "id": 4, "method": "x"}],
)
async def test_what_is_not_json_rpc_gets_invalid_request(message: Any) -> None:
    protocol = await serve(frame(json.dumps(message).encode()))
    assert not protocol.handled
    assert protocol.answers[0][1].code == -32600


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.4", "example.org"]))


async def test_handled_notifications_leave_nothing_behind() -> None:
    """pygls kept a future for every didOpen/didChange/didClose: memory grew with each."""
    from lsp_fim.handlers import create_server

    server = create_server()
    protocol = server.protocol
    for n in range(100):
        uri = f"file:///w/cycle{n}.py"
        document = {"uri": uri, "languageId": "python", "version": 0, "text": "x = 1\n"}
        for method, params in (
            ("textDocument/didOpen", {"textDocument": document}),
            ("textDocument/didClose", {"textDocument": {"uri": uri}}),
        ):
            message = {"jsonrpc": "2.0", "method": method, "params": params}
            protocol.handle_message(protocol.structure_message(message))
    await asyncio.sleep(0)
    assert len(protocol._request_futures) <= 1


async def test_a_request_without_params_is_served() -> None:
    """JSON-RPC lets ``params`` be left out; pygls's types then failed (InternalError)."""
    protocol = await serve(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
    assert not protocol.answers
    assert [message.id for message in protocol.handled] == [3]
