"""The one raw LSP client of ``bench/`` and ``tests/``: JSON-RPC frames over a byte stream, sent
and read the way an editor does.

pytest-lsp frames every message correctly and waits for the server's readiness the polite way;
the benchmarks and the editor-boundary tests need the impolite ways too (bytes that are not LSP,
a wrong Content-Length, requests sent before anything is ready, two clients at once) and the
moment each answer came off the wire. One framing and one editor's side of the session
(capabilities, answers to the server's requests) serve two drivers: :class:`LspProcess` on
asyncio, for benchmarks that send thousands of messages and time each answer, and
:class:`WireClient` with a reader thread, for synchronous tests over a pipe or a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import lsp_fim

Message = dict[str, Any]

# Start the server from the lsp_fim imported here, so that both sides run the same code (a
# clean clone included: ``python -m`` puts the working directory first on sys.path).
SERVER_ROOT = Path(lsp_fim.__file__).resolve().parent.parent
READ_CHUNK = 65536
ANSWER_TIMEOUT_S = 30.0
# How long a stuck server is given to write its stacks before it is killed.
STACK_DUMP_S = 1.0
# What an editor announces: progress (the model's load is reported through it), pulled
# configuration, inline completions and UTF-16 positions (the LSP default).
CAPABILITIES: Message = {
    "window": {"workDoneProgress": True, "showMessage": {}},
    "workspace": {"configuration": True},
    "textDocument": {
        "synchronization": {"didSave": False, "dynamicRegistration": False},
        "inlineCompletion": {"dynamicRegistration": False},
        "completion": {},
    },
    "general": {"positionEncodings": ["utf-16"]},
}


# --- the editor's side of the protocol ----------------------------------------------------


def frame(message: Message) -> bytes:
    """One message with its header; JSON's ``\\u`` escapes keep even lone surrogates ASCII."""
    body = json.dumps(message, ensure_ascii=True).encode("ascii")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def content_length(header: bytes) -> int:
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise ValueError(f"no Content-Length in {header!r}")


class FrameDecoder:
    """Messages out of a byte stream that arrives in pieces of any size."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length: int | None = None

    def feed(self, data: bytes) -> list[Message]:
        """Every message completed by ``data``, in order."""
        self._buffer += data
        messages = []
        while (message := self._next()) is not None:
            messages.append(message)
        return messages

    def _next(self) -> Message | None:
        if self._length is None:
            header_end = self._buffer.find(b"\r\n\r\n")
            if header_end < 0:
                return None
            self._length = content_length(bytes(self._buffer[:header_end]))
            del self._buffer[: header_end + 4]
        if len(self._buffer) < self._length:
            return None
        body = bytes(self._buffer[: self._length])
        del self._buffer[: self._length]
        self._length = None
        message: Message = json.loads(body)
        return message


def initialize_params(root_uri: str | None, options: Any, client_name: str) -> Message:
    return {
        "processId": os.getpid(),
        "clientInfo": {"name": client_name},
        "rootUri": root_uri,
        "capabilities": CAPABILITIES,
        "initializationOptions": options,
    }


def server_request_result(message: Message, settings: Any) -> Any:
    """What an editor answers the server's requests: ``settings`` for each configuration item
    asked for; null to the rest (a progress token must be accepted or the load is not shown)."""
    if message["method"] == "workspace/configuration":
        return [settings for _ in (message.get("params") or {}).get("items", [])]
    return None


def server_command(*args: str) -> list[str]:
    """``python -m lsp_fim ARGS`` with this interpreter."""
    return [sys.executable, "-m", "lsp_fim", *args]


def status_numbers(status_text: str) -> dict[str, int]:
    """The numbers of a ``/proc/<pid>/status`` (kB for memory; ``VmHWM`` is the resident
    peak, which a reading of the current RSS at the end would understate)."""
    return {match[1]: int(match[2]) for match in re.finditer(r"^(\w+):\s+(\d+)", status_text, re.M)}


def process_status(pid: int) -> dict[str, int]:
    """:func:`status_numbers` of a running process; empty once it is gone."""
    try:
        return status_numbers(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return {}


# --- asyncio: the server's stdio, for benchmarks ------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A response, stamped when it was read off the pipe (a busy client loop never adds to a
    measured latency)."""

    message: Message
    received: float

    @property
    def result(self) -> Any:
        return self.message.get("result")

    @property
    def error(self) -> dict[str, Any] | None:
        error: dict[str, Any] | None = self.message.get("error")
        return error


class LspProcess:
    """``lsp-fim serve`` over its stdio: requests, their answers and the server's progress."""

    def __init__(self, process: asyncio.subprocess.Process, settings: Any) -> None:
        self.process = process
        # What ``workspace/configuration`` is answered with; a run may change it.
        self.settings = settings
        self.messages_sent = 0
        self.sent_at: dict[int, float] = {}
        self.progress_open: set[Any] = set()
        self.progress_ends: list[str] = []
        # Set when a progress ends (the model loaded, or failed to) or the server is gone.
        self.ready = asyncio.Event()
        # Set when the server did not end when asked to and had to be killed.
        self.stuck = False
        self._next_id = 0
        self._answers: dict[int, asyncio.Future[Answer]] = {}
        self._closed = False
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def start(cls, args: Sequence[str], settings: Any, stderr: Path) -> Self:
        """``python -m lsp_fim ARGS``; stderr goes to a file: a pipe nobody reads could fill
        up and stall the server."""
        with stderr.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                *server_command(*args),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                cwd=SERVER_ROOT,
            )
        return cls(process, settings)

    # writing

    def write(self, data: bytes) -> None:
        """Raw bytes, a broken frame included."""
        assert self.process.stdin is not None
        self.messages_sent += 1
        self.process.stdin.write(data)

    def send(self, message: Message) -> None:
        self.write(frame(message))

    def request(self, method: str, params: Any = None) -> int:
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        if self._closed:
            _fail(future)
        self._answers[request_id] = future
        self.sent_at[request_id] = time.perf_counter()
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return request_id

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def cancel(self, request_id: int) -> None:
        self.notify("$/cancelRequest", {"id": request_id})

    async def drain(self, timeout: float = ANSWER_TIMEOUT_S) -> None:
        """Until the server has read what was written; TimeoutError past ``timeout`` (a server
        whose event loop is stuck stops reading its input, and an unbounded wait here hung a
        CI run until its limit)."""
        assert self.process.stdin is not None
        await asyncio.wait_for(self.process.stdin.drain(), timeout)

    # answers

    def answer(self, request_id: int) -> asyncio.Future[Answer]:
        """Done when the answer arrives; failed with ConnectionError if the server goes."""
        return self._answers[request_id]

    async def wait(self, request_id: int, timeout: float = ANSWER_TIMEOUT_S) -> Answer:
        """The answer (now, if it came already); TimeoutError past ``timeout``."""
        return await asyncio.wait_for(asyncio.shield(self._answers[request_id]), timeout)

    async def call(self, method: str, params: Any = None, timeout: float = ANSWER_TIMEOUT_S) -> Any:
        """The result of a request; an error answer raises RuntimeError."""
        answer = await self.wait(self.request(method, params), timeout)
        if answer.error is not None:
            raise RuntimeError(f"{method}: {answer.error.get('message', answer.error)}")
        return answer.result

    # session

    async def initialize(self, root: Path, options: Any, client_name: str) -> None:
        await self.call("initialize", initialize_params(root.as_uri(), options, client_name))
        self.notify("initialized", {})

    def status(self) -> dict[str, int]:
        return process_status(self.process.pid)

    async def stop(self, timeout: float = ANSWER_TIMEOUT_S) -> int:
        """Shut down politely, killed if that does not end the process; its exit status.

        A server that has to be killed is first asked for its threads' stacks (SIGUSR1: the
        server writes them to its stderr), so that its log says where it was stuck."""
        with contextlib.suppress(Exception):
            await self.call("shutdown", None, timeout=timeout)
            self.notify("exit")
            await self.drain(timeout)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.stuck = True
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGUSR1)
                await asyncio.sleep(STACK_DUMP_S)
                self.process.kill()
            return await asyncio.wait_for(self.process.wait(), timeout)
        finally:
            self._reader.cancel()

    # reading

    async def _read_loop(self) -> None:
        assert self.process.stdout is not None
        decoder = FrameDecoder()
        while chunk := await self.process.stdout.read(READ_CHUNK):
            received = time.perf_counter()
            for message in decoder.feed(chunk):
                self._dispatch(message, received)
        self._closed = True
        for future in self._answers.values():
            if not future.done():
                _fail(future)
        self.ready.set()

    def _dispatch(self, message: Message, received: float) -> None:
        if "method" not in message:
            request_id = message.get("id")
            future = self._answers.get(request_id) if isinstance(request_id, int) else None
            if future is not None and not future.done():
                future.set_result(Answer(message, received))
        elif "id" in message:
            result = server_request_result(message, self.settings)
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})
        elif message["method"] == "$/progress":
            self._on_progress(message.get("params") or {})

    def _on_progress(self, params: dict[str, Any]) -> None:
        value = params.get("value") or {}
        if value.get("kind") == "begin":
            self.progress_open.add(params.get("token"))
        elif value.get("kind") == "end":
            self.progress_open.discard(params.get("token"))
            self.progress_ends.append(str(value.get("message", "")))
            self.ready.set()


def _fail(future: asyncio.Future[Answer]) -> None:
    """No answer will come. Marked as seen: nobody need wait for every request it sent."""
    future.set_exception(ConnectionError("the server closed its output"))
    future.exception()


# --- a reader thread: a pipe or a socket, for synchronous tests ---------------------------


class WireClient:
    """Sends frames and collects what comes back, in a reader thread."""

    def __init__(
        self, write: Callable[[bytes], None], read: Callable[[int], bytes], settings: Any = None
    ) -> None:
        self._write = write
        self._read = read
        self._settings = settings
        self._messages: queue.Queue[Message | None] = queue.Queue()
        self.received: list[Message] = []
        self.closed = threading.Event()
        self._next_id = 0
        threading.Thread(target=self._read_frames, daemon=True).start()

    @classmethod
    def over_process(cls, process: subprocess.Popen[bytes]) -> WireClient:
        stdin, stdout = process.stdin, process.stdout
        assert stdin is not None and isinstance(stdout, io.BufferedReader)

        def write(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        return cls(write, stdout.read1)

    @classmethod
    def over_socket(cls, sock: socket.socket) -> WireClient:
        return cls(sock.sendall, sock.recv)

    # sending

    def send_raw(self, data: bytes) -> None:
        self._write(data)

    def notify(self, method: str, params: Any = None) -> None:
        self.send_raw(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def request(self, method: str, params: Any = None) -> int:
        self._next_id += 1
        message = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        self.send_raw(frame(message))
        return self._next_id

    def initialize(self, root_uri: str | None = None, options: Any = None) -> Message:
        params = initialize_params(root_uri, options, "lsp-fim wire client")
        answer = self.wait_for_answer(self.request("initialize", params), 30)
        self.notify("initialized", {})
        return answer

    def open(self, uri: str, text: str, language_id: str = "python") -> None:
        document = {"uri": uri, "languageId": language_id, "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": document})

    def inline_completion(self, uri: str, line: int, character: int) -> int:
        return self.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 2},
            },
        )

    def shutdown(self) -> None:
        with contextlib.suppress(OSError, TimeoutError):
            self.wait_for_answer(self.request("shutdown"), 10)
            self.notify("exit")

    # receiving

    def wait_for_answer(self, request_id: int, timeout_s: float) -> Message:
        return self.wait_for(lambda m: m.get("id") == request_id and "method" not in m, timeout_s)

    def wait_for(self, matches: Callable[[Message], bool], timeout_s: float) -> Message:
        """The first message (received so far or later) that ``matches``."""
        seen = 0
        deadline = time.monotonic() + timeout_s
        while True:
            for message in self.received[seen:]:
                if matches(message):
                    return message
            seen = len(self.received)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching message in {timeout_s} s")
            try:
                arrived = self._messages.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                continue
            if arrived is None:
                raise ConnectionError("the server closed the connection")

    def _read_frames(self) -> None:
        decoder = FrameDecoder()
        try:
            while chunk := self._read(READ_CHUNK):
                for message in decoder.feed(chunk):
                    self._answer_server_request(message)
                    self.received.append(message)
                    self._messages.put(message)
        except OSError:
            return
        finally:
            self.closed.set()
            self._messages.put(None)

    def _answer_server_request(self, message: Message) -> None:
        if "method" in message and "id" in message:
            result = server_request_result(message, self._settings)
            with contextlib.suppress(OSError):
                self.send_raw(frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))


def server_env() -> dict[str, str]:
    """The environment of a server under test: this one, with the test model where one is
    set (``LSP_FIM_TEST_MODEL``)."""
    env = dict(os.environ)
    if test_model := os.environ.get("LSP_FIM_TEST_MODEL"):
        env["LSP_FIM_MODEL"] = test_model
    return env


def start_server(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python -m lsp_fim ARGS`` with pipes for stdio (stderr to the caller's stderr)."""
    return subprocess.Popen(
        server_command(*args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=SERVER_ROOT,
    )
