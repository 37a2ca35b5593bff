"""SSE over HTTP against a scripted local engine: pieces as they come, cancellation that closes
the connection, and every fault a BackendError that says where and what."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from scripted_http import Reply, ScriptedEngine, sse

from lsp_fim.backends import http_stream
from lsp_fim.backends.base import BackendError
from lsp_fim.backends.http_stream import EngineAddress, request_json, stream_events

PATH = "/infill"


def events_of(
    engine: ScriptedEngine, cancel: threading.Event | None = None
) -> list[dict[str, object]]:
    address = EngineAddress.parse(engine.url)
    return list(stream_events(address, PATH, {"n_predict": 4}, cancel or threading.Event()))


def test_events_arrive_one_at_a_time() -> None:
    gate = threading.Event()
    reply = Reply([sse({"content": "a"}), gate, sse({"content": "b"})])
    with ScriptedEngine({PATH: [reply]}) as engine:
        stream = stream_events(EngineAddress.parse(engine.url), PATH, {}, threading.Event())
        # The first event is read while the engine still holds the second back.
        assert next(stream) == {"content": "a"}
        gate.set()
        assert next(stream) == {"content": "b"}
        assert list(stream) == []
        assert engine.bodies(PATH) == [{}]


def test_comments_multi_line_data_and_done() -> None:
    events = [":\n\n", 'data: {"a":\ndata: 1}\n\n', "data: [DONE]\n\n", sse({"late": True})]
    with ScriptedEngine({PATH: [Reply(list(events))]}) as engine:
        assert events_of(engine) == [{"a": 1}]


def test_cancel_closes_the_connection_mid_stream() -> None:
    reply = Reply([sse({"content": str(n)}) for n in range(200)], delay_s=0.01)
    cancel = threading.Event()
    with ScriptedEngine({PATH: [reply]}) as engine:
        stream = stream_events(EngineAddress.parse(engine.url), PATH, {}, cancel)
        assert next(stream) == {"content": "0"}
        cancel.set()
        assert list(stream) == []  # at most the event already on its way, never an error
        assert engine.disconnected.wait(2)
        assert engine.events_sent < 50


def test_stopping_iteration_closes_the_connection() -> None:
    reply = Reply([sse({"content": str(n)}) for n in range(200)], delay_s=0.01)
    with ScriptedEngine({PATH: [reply]}) as engine:
        stream = stream_events(EngineAddress.parse(engine.url), PATH, {}, threading.Event())
        next(stream)
        stream.close()
        assert engine.disconnected.wait(2)
        assert engine.events_sent < 50


def test_cancel_before_the_first_event_returns_at_once() -> None:
    """An engine sends the status line only after the prompt: cancel must not wait for it."""
    hold = threading.Event()
    cancel = threading.Event()
    reply = Reply([sse({"content": "late"}), sse({"content": "later"})], hold=hold)
    with ScriptedEngine({PATH: [reply]}) as engine:
        threading.Timer(0.1, cancel.set).start()
        started = time.perf_counter()
        assert events_of(engine, cancel) == []
        assert time.perf_counter() - started < 1.0
        hold.set()
        assert engine.disconnected.wait(2)


def test_refused_connection_names_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = EngineAddress.parse(f"http://127.0.0.1:{port}")
    with pytest.raises(BackendError, match=rf"cannot reach .*127\.0\.0\.1:{port}/infill.*refused"):
        list(stream_events(address, PATH, {}, threading.Event()))


def test_http_error_status_quotes_the_body() -> None:
    body = '{"error": {"code": 500, "message": "slot 0 crashed"}}'
    with (
        ScriptedEngine({PATH: [Reply(status=500, body=body)]}) as engine,
        pytest.raises(BackendError) as raised,
    ):
        events_of(engine)
    message = str(raised.value)
    assert f"{engine.url}{PATH}" in message
    assert "HTTP 500" in message and "slot 0 crashed" in message


def test_malformed_event_is_an_error() -> None:
    reply = Reply([sse({"content": "a"}), "data: {not json\n\n"])
    with (
        ScriptedEngine({PATH: [reply]}) as engine,
        pytest.raises(BackendError, match=r"/infill: an event is not JSON: \{not json"),
    ):
        events_of(engine)


def test_error_event_after_the_stream_began_is_an_error() -> None:
    reply = Reply([sse({"content": "a"}), sse({"error": {"message": "context full"}})])
    with (
        ScriptedEngine({PATH: [reply]}) as engine,
        pytest.raises(BackendError, match="context full"),
    ):
        events_of(engine)


def test_silent_engine_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_stream, "READ_TIMEOUT_S", 0.2)
    hold = threading.Event()
    with (
        ScriptedEngine({PATH: [Reply([sse({"content": "a"})], hold=hold)]}) as engine,
        pytest.raises(BackendError, match="timed out"),
    ):
        events_of(engine)
        hold.set()


def test_request_json_sends_the_key_and_wants_an_object() -> None:
    replies = {"/props": [Reply(body='{"model_path": "m.gguf"}'), Reply(body="[1, 2]")]}
    with ScriptedEngine(replies) as engine:
        address = EngineAddress.parse(engine.url + "/", api_key="sk-test")
        assert request_json(address, "/props") == {"model_path": "m.gguf"}
        with pytest.raises(BackendError, match="not a JSON object"):
            request_json(address, "/props")
    assert engine.requests[0].headers["Authorization"] == "Bearer sk-test"
    assert "sk-test" not in repr(address)


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host", "http://", "http://h:99999"])
def test_unusable_urls_are_refused_with_the_setting_named(url: str) -> None:
    with pytest.raises(BackendError, match="backendUrl"):
        EngineAddress.parse(url)
