"""API keys over HTTP: never sent in the clear off this machine, never shown in a message or a
log line, even when an engine echoes the request's headers back."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from typing import Any

import pytest
from scripted_http import Reply, ScriptedEngine, sse

from lsp_fim.backends.base import (
    REDACTED,
    BackendError,
    FimPrompt,
    GenerationRequest,
    GenerationStats,
)
from lsp_fim.backends.http_engines import open_http_backend
from lsp_fim.config import Settings
from lsp_fim.loopback import is_loopback
from lsp_fim.templates import load_template

KEY_VARIABLE = "LSP_FIM_TEST_SECRET_KEY"
KEY = "sk-h4-0123456789abcdefghijklmnopqrstuvwxyz"
QWEN = load_template("qwen2.5-coder")
PROMPT = FimPrompt(QWEN.render_pieces("x = ", "\n"), "x = ", "\n")


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, KEY)


def settings(url: str, **changes: Any) -> Settings:
    """Settings that ask the engine nothing at open: model and template are given."""
    base = Settings(
        backend="openai",
        backend_url=url,
        backend_model="qwen2.5-coder:1.5b",
        template="qwen2.5-coder",
        api_key_env=KEY_VARIABLE,
    )
    return replace(base, **changes)


def assert_no_key(text: str) -> None:
    """Not the key, nor any stretch of it long enough to matter."""
    assert not any(KEY[i : i + 8] in text for i in range(len(KEY) - 7)), text


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.7:8000", "http://engine.example.com/v1", "http://[2001:db8::1]:8080"],
)
@pytest.mark.parametrize("backend", ["openai", "llama-server"])
def test_a_key_is_never_sent_over_plain_http_to_another_machine(url: str, backend: str) -> None:
    with pytest.raises(BackendError) as raised:
        open_http_backend(settings(url, backend=backend))
    message = str(raised.value)
    assert url.removesuffix("/v1").split("//")[1].split(":")[0].strip("[]") in message
    assert "https://" in message and "loopback" in message
    assert_no_key(message)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.3.4.5:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
        "https://engine.example.com",
    ],
)
def test_a_key_may_go_to_this_machine_or_over_https(url: str) -> None:
    backend, _ = open_http_backend(settings(url))
    assert backend.address.headers["Authorization"] == f"Bearer {KEY}"


def test_without_a_key_plain_http_to_another_machine_is_allowed() -> None:
    backend, _ = open_http_backend(settings("http://10.0.0.7:8000", api_key_env=None))
    assert backend.address.headers == {}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("LOCALHOST", True),
        ("128.0.0.1", False),
        ("localhost.example.com", False),
        ("0.0.0.0", False),
        ("::", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def echoing(engine: ScriptedEngine, status: int, shape: str) -> Reply:
    """An engine that puts the request's headers into its answer, as some debugging proxies
    and error pages do; the key lands across the cut of the quoted body excerpt too."""
    headers = engine.requests[-1].headers
    if shape == "status":
        echo = json.dumps({"Authorization": headers["Authorization"], **headers})
        return Reply(status=status, body="x" * 260 + echo)  # the key starts 14 before the cut
    if shape == "event":
        return Reply([sse({"error": {"message": "bad request", "request_headers": headers}})])
    if shape == "field":
        event = sse({"choices": [{"text": headers, "index": 0, "finish_reason": None}]})
        return Reply([event])
    return Reply([f"data: not json {headers}\n\n"])


@pytest.mark.parametrize("shape", ["status", "event", "field", "not json"])
def test_an_engine_echoing_the_key_never_gets_it_into_a_message_or_the_log(
    shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = ScriptedEngine()
    engine.replies["/v1/completions"] = lambda body: echoing(engine, 401, shape)
    caplog.set_level(logging.DEBUG)
    with engine:
        backend, _ = open_http_backend(settings(engine.url))
        request = GenerationRequest(PROMPT, 8, (), threading.Event())
        with pytest.raises(BackendError) as raised:
            list(backend.stream(request, GenerationStats()))
    assert engine.requests[-1].headers["Authorization"] == f"Bearer {KEY}"  # it was echoed
    message = str(raised.value)
    assert_no_key(message)
    if shape != "field":
        assert REDACTED in message
    assert_no_key(caplog.text)


def test_an_echoed_key_is_redacted_from_tokenize_errors_too() -> None:
    """llama-server with a template: the prompt's token ids come from /tokenize."""
    engine = ScriptedEngine()
    engine.replies["/tokenize"] = lambda body: echoing(engine, 500, "status")
    with engine:
        backend, _ = open_http_backend(settings(engine.url, backend="llama-server"))
        request = GenerationRequest(PROMPT, 8, (), threading.Event())
        with pytest.raises(BackendError) as raised:
            list(backend.stream(request, GenerationStats()))
    assert "/tokenize" in str(raised.value)
    assert_no_key(str(raised.value))
