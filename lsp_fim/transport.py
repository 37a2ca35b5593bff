"""The wire: LSP base-protocol framing over stdio and TCP, read here rather than by pygls.

pygls's own loop drops a request whose params do not deserialize (the client then waits
forever), believes any ``Content-Length``, reads header lines of any length, and over TCP lets
every connection replace the previous client's writer, so a second connection (or a browser's
``POST /`` to a loopback port, whose body is valid JSON-RPC) takes the session over. Here:

- every request is answered: a body that is not JSON gets ``ParseError``, a message that is not
  JSON-RPC ``InvalidRequest``, params that do not deserialize ``InvalidParams``;
- header lines and bodies are bounded, and a body that was framed too long is searched for the
  next message's header, so one bad frame costs one message, not the rest of the session;
- over TCP one client at a time: a second connection is refused, and a connection whose first
  line is not an LSP header (``POST /…``, ``GET /…``) is closed before a message is read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, BinaryIO, Protocol

from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
)
from pygls.io_ import StdoutWriter
from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol

log = logging.getLogger(__name__)

MAX_HEADER_LINE_BYTES = 1024
MAX_HEADER_LINES = 16
# A 2-million-character document (the largest the server completes in) as JSON with every
# character escaped is 12 bytes a character; larger bodies are refused unread.
MAX_CONTENT_LENGTH = 32 * 1024 * 1024
HEADER = re.compile(rb"^(content-length|content-type)\s*:", re.IGNORECASE)
CONTENT_LENGTH = re.compile(rb"content-length\s*:\s*(\d{1,12})\s*$", re.IGNORECASE)
# Where a message starts inside text that was read as another message's body.
NEXT_FRAME = re.compile(rb"Content-Length: \d+\r\n")
# A connection must say who it is this soon, or it is closed.
FIRST_LINE_TIMEOUT_S = 10.0


class FimProtocol(LanguageServerProtocol):
    """pygls's protocol, less a leak: it keeps the future of every notification's handler in
    ``_request_futures`` for good (pygls 2.1: one for each didOpen, didChange and didClose;
    10,000 open/close cycles grew the server by 80 MiB). Each is dropped once done."""

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(partial(self._forget_future, msg_id))

    def _forget_future(self, msg_id: Any, future: Any) -> None:
        if self._request_futures.get(msg_id) is future:
            del self._request_futures[msg_id]


class FramingError(Exception):
    """The byte stream is not (or no longer) LSP base protocol."""


class ByteSource(Protocol):
    """Where frames come from: ``read_line`` returns at most ``limit`` bytes and b"" at the
    end; ``read_exactly`` returns fewer bytes only at the end."""

    def read_line(self, limit: int) -> Awaitable[bytes]: ...

    def read_exactly(self, count: int) -> Awaitable[bytes]: ...


class FrameReader:
    """Reads one message body at a time, with bytes pushed back after a misframed body."""

    def __init__(self, source: ByteSource) -> None:
        self._source = source
        self._pushed = b""

    async def read_body(self) -> bytes | None:
        """The next body; None at the end of the stream. Raises :class:`FramingError` for a
        frame that cannot be read (its bytes are skipped)."""
        content_length: int | None = None
        for _ in range(MAX_HEADER_LINES):
            line = await self._read_line()
            if not line:
                return None
            if not line.strip():
                if content_length is None:
                    raise FramingError("a message without Content-Length")
                return await self._read_exactly(content_length)
            if match := CONTENT_LENGTH.search(line.rstrip(b"\r\n")):
                content_length = int(match.group(1))
                if content_length > MAX_CONTENT_LENGTH:
                    raise FramingError(
                        f"Content-Length {content_length} is over {MAX_CONTENT_LENGTH} bytes"
                    )
        raise FramingError(f"more than {MAX_HEADER_LINES} header lines")

    def push_back(self, data: bytes) -> None:
        self._pushed = data + self._pushed

    async def first_line_is_a_header(self) -> bool:
        """Whether the stream starts as LSP does (its bytes are kept for ``read_body``)."""
        line = await self._read_line()
        self.push_back(line)
        return bool(HEADER.match(line))

    async def _read_line(self) -> bytes:
        if self._pushed:
            end = self._pushed.find(b"\n", 0, MAX_HEADER_LINE_BYTES)
            if end >= 0 or len(self._pushed) >= MAX_HEADER_LINE_BYTES:
                cut = end + 1 if end >= 0 else MAX_HEADER_LINE_BYTES
                line, self._pushed = self._pushed[:cut], self._pushed[cut:]
                return line
            line, self._pushed = self._pushed, b""
            return line + await self._source.read_line(MAX_HEADER_LINE_BYTES - len(line))
        return await self._source.read_line(MAX_HEADER_LINE_BYTES)

    async def _read_exactly(self, count: int) -> bytes:
        head, self._pushed = self._pushed[:count], self._pushed[count:]
        if len(head) == count:
            return head
        return head + await self._source.read_exactly(count - len(head))


class StdinSource:
    """Blocking reads of stdin in a daemon thread of ours: the event loop never waits on them,
    and a read still blocked when the server exits does not keep the process alive."""

    def __init__(self, stdin: BinaryIO) -> None:
        self._stdin = stdin
        self._jobs: queue.SimpleQueue[_ReadJob] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def read_line(self, limit: int) -> Awaitable[bytes]:
        return self._submit(partial(self._stdin.readline, limit))

    def read_exactly(self, count: int) -> Awaitable[bytes]:
        return self._submit(partial(self._stdin.read, count))

    def _submit(self, read: Callable[[], bytes]) -> asyncio.Future[bytes]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._jobs.put((read, future, loop))
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="lsp-fim-stdin", daemon=True)
            self._thread.start()
        return future

    def _serve(self) -> None:
        while True:
            read, future, loop = self._jobs.get()
            try:
                data = read()
            except (OSError, ValueError):  # stdin closed under us: the end of the stream
                data = b""
            loop.call_soon_threadsafe(_resolve, future, data)


_ReadJob = tuple[Callable[[], bytes], "asyncio.Future[bytes]", asyncio.AbstractEventLoop]


def _resolve(future: asyncio.Future[bytes], data: bytes) -> None:
    if not future.done():
        future.set_result(data)


class StreamSource:
    """An asyncio stream (a TCP connection)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def read_line(self, limit: int) -> bytes:
        """The stream's buffer limit is the header line limit: a longer line comes back in
        pieces, none of which is a header."""
        try:
            return await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as error:
            return error.partial
        except asyncio.LimitOverrunError:
            return await self._reader.read(limit)

    async def read_exactly(self, count: int) -> bytes:
        try:
            return await self._reader.readexactly(count)
        except asyncio.IncompleteReadError as error:
            return error.partial


class _WithoutDeserializeTracebacks(logging.Filter):
    """pygls logs each message it cannot read with a traceback of dozens of lines, at ERROR;
    a fuzzing or broken client would fill the log with them. One line is logged here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unable to deserialize message")


async def serve_messages(
    frames: FrameReader,
    protocol: JsonRPCProtocol,
    stop: threading.Event,
) -> None:
    """Hand every message to ``protocol``, answering those it could not take, until the end
    of the stream."""
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_WithoutDeserializeTracebacks())
    while not stop.is_set():
        try:
            body = await frames.read_body()
        except FramingError as error:
            log.warning("unreadable message skipped: %s", error)
            continue
        if body is None:
            return
        _handle_body(frames, protocol, body)


def _handle_body(frames: FrameReader, protocol: JsonRPCProtocol, body: bytes) -> None:
    try:
        data = _parse(frames, body)
    except (ValueError, RecursionError):
        _answer_error(protocol, None, JsonRpcParseError())
        log.warning("a message that is not JSON (%d bytes) answered with ParseError", len(body))
        return
    request_id = _request_id(data)
    if not isinstance(data, dict) or data.get("jsonrpc") != JsonRPCProtocol.VERSION:
        _answer_error(protocol, request_id, JsonRpcInvalidRequest())
        return
    if "method" in data:  # JSON-RPC lets params be left out; pygls's types require the key
        data.setdefault("params", None)
    try:
        message = protocol.structure_message(data)
    except JsonRpcInvalidParams as error:
        _answer_if_request(protocol, data, request_id, error)
        return
    except JsonRpcException as error:
        _answer_if_request(protocol, data, request_id, error)
        return
    try:
        protocol.handle_message(message)
    except Exception:  # pygls answers handler faults itself; this is a fault of its own
        log.exception("message %s could not be handled", data.get("method"))
        _answer_if_request(protocol, data, request_id, JsonRpcInternalError())


def _parse(frames: FrameReader, body: bytes) -> Any:
    """The JSON in ``body``. A body framed too long holds the start of the next message:
    that part goes back to the reader, and the part before it is this message."""
    try:
        return json.loads(body)
    except ValueError:
        resync = NEXT_FRAME.search(body)
        if resync is None:
            raise
        frames.push_back(body[resync.start() :])
        return json.loads(body[: resync.start()])


def _request_id(data: Any) -> int | str | None:
    request_id = data.get("id") if isinstance(data, dict) else None
    is_id = isinstance(request_id, int | str) and not isinstance(request_id, bool)
    return request_id if is_id else None


def _answer_if_request(
    protocol: JsonRPCProtocol,
    data: dict[str, Any],
    request_id: int | str | None,
    error: JsonRpcException,
) -> None:
    """Requests are answered with the error; a bad notification can only be logged."""
    log.warning("message %r refused: %s", data.get("method"), type(error).__name__)
    if "method" in data and "id" in data:
        _answer_error(protocol, request_id, error)


def _answer_error(
    protocol: JsonRPCProtocol, request_id: int | str | None, error: JsonRpcException
) -> None:
    protocol._send_response(request_id, None, error.to_response_error())  # type: ignore[arg-type]


def serve_stdio(
    protocol: JsonRPCProtocol,
    stop: threading.Event,
    streams: tuple[BinaryIO, BinaryIO] | None = None,
) -> None:
    """Serve the editor on ``streams`` (in, out), by default on the process's stdin and
    stdout, taken over by :func:`claim_stdio`."""
    lsp_in, lsp_out = streams or claim_stdio()
    protocol.set_writer(StdoutWriter(lsp_out))
    frames = FrameReader(StdinSource(lsp_in))
    asyncio.run(serve_messages(frames, protocol, stop))


def claim_stdio() -> tuple[BinaryIO, BinaryIO]:
    """The LSP channel moved off file descriptors 0 and 1, which then point at /dev/null and
    stderr.

    Whatever else uses those descriptors would break the channel: llama.cpp's loader silences
    itself by pointing fd 1 at /dev/null while a model loads (an answer sent meanwhile was
    lost: the editor's first request, sent as it opened a file, was never answered), native
    code may print to stdout, and a child process may read stdin."""
    sys.stdout.flush()
    lsp_in = os.fdopen(os.dup(0), "rb")
    lsp_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return lsp_in, lsp_out


class SingleClientListener:
    """A TCP listener for one client session: a second connection is refused, not merged
    into the first, and a connection that does not speak LSP is closed unread."""

    def __init__(self, protocol: JsonRPCProtocol, stop: threading.Event) -> None:
        self._protocol = protocol
        self._stop = stop
        self._connected: str | None = None
        self.session_ended = asyncio.Event()

    async def on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = str(writer.get_extra_info("peername"))
        frames = FrameReader(StreamSource(reader))
        try:
            refusal = await self._refusal(frames)
        except (TimeoutError, OSError) as error:
            refusal = f"no LSP header in {FIRST_LINE_TIMEOUT_S:.0f} s ({error or 'timeout'})"
        if refusal:
            log.warning("connection from %s closed: %s", peer, refusal)
            writer.close()
            return
        self._connected = peer
        log.info("client %s connected", peer)
        self._protocol.set_writer(writer)
        try:
            await serve_messages(frames, self._protocol, self._stop)
        finally:
            log.info("client %s disconnected", peer)
            writer.close()
            self.session_ended.set()

    async def _refusal(self, frames: FrameReader) -> str | None:
        if self._connected is not None:
            return f"{self._connected} is connected (one client at a time)"
        if not await asyncio.wait_for(frames.first_line_is_a_header(), FIRST_LINE_TIMEOUT_S):
            return "not an LSP client (its first line is not a Content-Length header)"
        if self._connected is not None:  # another one got in while this one was read
            return f"{self._connected} is connected (one client at a time)"
        return None


def serve_tcp(protocol: JsonRPCProtocol, stop: threading.Event, host: str, port: int) -> None:
    """Serve one client session on ``host:port``, then return (as pygls does)."""
    asyncio.run(_serve_tcp(protocol, stop, host, port))


async def _serve_tcp(
    protocol: JsonRPCProtocol, stop: threading.Event, host: str, port: int
) -> None:
    listener = SingleClientListener(protocol, stop)
    server = await asyncio.start_server(
        listener.on_connection, host, port, limit=MAX_HEADER_LINE_BYTES
    )
    addresses = ", ".join(str(sock.getsockname()) for sock in server.sockets)
    log.info("listening on %s", addresses)
    async with server:
        await listener.session_ended.wait()
