"""An inference engine with no model: a local HTTP server that records every request and
answers with scripted server-sent events, one chunk at a time, the way llama-server streams."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def sse(data: Any) -> str:
    """One event whose data is ``data`` as JSON."""
    return f"data: {json.dumps(data)}\n\n"


def content_events(pieces: list[str]) -> list[str | threading.Event]:
    """llama-server's ``/infill`` or ``/completion`` stream of ``pieces``, then its last event."""
    events: list[str | threading.Event] = [
        sse({"content": piece, "stop": False, "tokens_predicted": n, "tokens_evaluated": 40})
        for n, piece in enumerate(pieces, 1)
    ]
    events.append(sse({"content": "", "stop": True, "tokens_predicted": len(pieces)}))
    return events


@dataclass
class Reply:
    """``events`` are raw SSE text, sent one chunk each, ``delay_s`` apart; an Event in the list
    holds the stream until it is set. ``hold`` delays the status line, as an engine does while
    it evaluates the prompt."""

    events: list[str | threading.Event] = field(default_factory=list)
    status: int = 200
    body: str = ""
    delay_s: float = 0.0
    hold: threading.Event | None = None


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


# The replies for one path, in order (the last one again once used up), or a function of the
# request body.
Replies = list[Reply] | Callable[[Any], Reply]


class ScriptedEngine:
    """Serves ``replies[path]``; every request is kept in ``requests``. ``disconnected`` is set
    when the client went away mid-stream."""

    def __init__(self, replies: dict[str, Replies] | None = None) -> None:
        self.replies: dict[str, Replies] = replies or {}
        self.requests: list[Recorded] = []
        self.events_sent = 0
        # Answers /tokenize: the token ids of a text.
        self.tokenize: Callable[[str], list[int]] | None = None
        self.disconnected = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def bodies(self, path: str) -> list[Any]:
        return [request.body for request in self.requests if request.path == path]

    def __enter__(self) -> ScriptedEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply_for(self, path: str, body: Any) -> Reply:
        if path == "/tokenize" and self.tokenize is not None:
            return Reply(body=json.dumps({"tokens": self.tokenize(body["content"])}))
        replies = self.replies.get(path)
        if callable(replies):
            return replies(body)
        if not replies:
            return Reply(status=404, body=f'{{"error": "no script for {path}"}}')
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self._answer(json.loads(self.rfile.read(length) or b"null"))

            def _answer(self, body: Any) -> None:
                engine.requests.append(Recorded(self.path, dict(self.headers.items()), body))
                reply = engine.reply_for(self.path, body)
                if reply.hold is not None:
                    reply.hold.wait(10)
                if reply.status != 200 or not reply.events:
                    self._send_whole(reply.status, reply.body)
                    return
                try:
                    self._send_stream(reply)
                except OSError:
                    engine.disconnected.set()

            def _send_whole(self, status: int, body: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in _chunks(reply):
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    engine.events_sent += 1
                self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True

        return Handler


def _chunks(reply: Reply) -> Iterator[bytes]:
    for index, event in enumerate(reply.events):
        if isinstance(event, threading.Event):
            event.wait(10)
            continue
        if index and reply.delay_s:
            threading.Event().wait(reply.delay_s)
        data = event.encode("utf-8")
        yield f"{len(data):x}\r\n".encode() + data + b"\r\n"
