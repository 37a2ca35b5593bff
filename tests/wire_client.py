"""A raw LSP client over a byte stream (a server's pipes or a TCP socket).

pytest-lsp's client frames every message correctly and waits for the server's readiness the
polite way; the faults at the editor boundary need the impolite ways too: bytes that are not
LSP, wrong Content-Length, requests sent before anything is ready, two clients at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]


def frame(message: Message) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body


class WireClient:
    """Sends frames and collects what comes back, in a reader thread."""

    def __init__(self, write: Callable[[bytes], None], read: Callable[[int], bytes]) -> None:
        self._write = write
        self._read = read
        self._messages: queue.Queue[Message | None] = queue.Queue()
        self.received: list[Message] = []
        self.closed = threading.Event()
        self._next_id = 0
        threading.Thread(target=self._read_frames, daemon=True).start()

    @classmethod
    def over_process(cls, process: subprocess.Popen[bytes]) -> WireClient:
        assert process.stdin is not None and process.stdout is not None
        stdin, stdout = process.stdin, process.stdout

        def write(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        return cls(write, stdout.read1)

    @classmethod
    def over_socket(cls, sock: socket.socket) -> WireClient:
        return cls(sock.sendall, sock.recv)

    # sending -----------------------------------------------------------------------------

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
        capabilities = {
            "textDocument": {"inlineCompletion": {}, "completion": {}},
            "window": {"workDoneProgress": True},
        }
        request_id = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root_uri,
                "capabilities": capabilities,
                "initializationOptions": options,
            },
        )
        answer = self.wait_for_answer(request_id, 30)
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

    # receiving ---------------------------------------------------------------------------

    def wait_for_answer(self, request_id: int, timeout_s: float) -> Message:
        return self.wait_for(
            lambda m: m.get("id") == request_id and "method" not in m, timeout_s
        )

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
                message = self._messages.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                continue
            if message is None:
                raise ConnectionError("the server closed the connection")

    def _read_frames(self) -> None:
        buffer = b""
        try:
            while True:
                header_end = buffer.find(b"\r\n\r\n")
                if header_end < 0:
                    chunk = self._read(65536)
                    if not chunk:
                        return
                    buffer += chunk
                    continue
                length = _content_length(buffer[:header_end])
                body_start = header_end + 4
                while len(buffer) < body_start + length:
                    chunk = self._read(65536)
                    if not chunk:
                        return
                    buffer += chunk
                message = json.loads(buffer[body_start : body_start + length])
                buffer = buffer[body_start + length :]
                self._answer_server_request(message)
                self.received.append(message)
                self._messages.put(message)
        except OSError:
            return
        finally:
            self.closed.set()
            self._messages.put(None)

    def _answer_server_request(self, message: Message) -> None:
        """Editors answer the server's requests (progress tokens, configuration)."""
        if "method" in message and "id" in message:
            result = [None] if message["method"] == "workspace/configuration" else None
            with contextlib.suppress(OSError):
                self.send_raw(frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))


def _content_length(header: bytes) -> int:
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise ValueError(f"no Content-Length in {header!r}")


def server_env() -> dict[str, str]:
    """The environment of a server under test: this one, with the test model where one is
    set (``LSP_FIM_TEST_MODEL``)."""
    env = dict(os.environ)
    if test_model := os.environ.get("LSP_FIM_TEST_MODEL"):
        env["LSP_FIM_MODEL"] = test_model
    return env


def start_server(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python -m lsp_fim ARGS`` with pipes for stdio (stderr to the test's stderr)."""
    return subprocess.Popen(
        [sys.executable, "-m", "lsp_fim", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
