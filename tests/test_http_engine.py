"""The engine on an HTTP stream: the scope stop, ``maxGenerateMs`` and cancellation end the
stream and close the connection exactly as they stop the embedded model."""

from __future__ import annotations

import threading

from scripted_http import Reply, ScriptedEngine, content_events

from lsp_fim.backends.http_backend import HttpBackend
from lsp_fim.backends.http_stream import EngineAddress
from lsp_fim.backends.llama_server import InfillApi, LlamaServerVocabulary
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine, CompletionRequest
from lsp_fim.scope import StopReason
from lsp_fim.templates import load_template

NORM = "import math\n\n\ndef norm(x: float, y: float) -> float:\n    \n    return r\n"
CURSOR = NORM.index("    \n") + 4
# What Qwen2.5-Coder-0.5B writes there, token by token, and then goes on.
NORM_TOKENS = ["r", " =", " math", ".sqrt", "(x", "**", "2", " +", " y", "**", "2", ")\n"]
NORM_TOKENS += ["   ", " return", " r", "\n\n\n", "def", " main", "():\n"] + ["    pass\n"] * 60


def engine_for(engine: ScriptedEngine, settings: Settings) -> CompletionEngine:
    address = EngineAddress.parse(engine.url)
    backend = HttpBackend(address, InfillApi(address), LlamaServerVocabulary(address))
    return CompletionEngine(backend, load_template("qwen2.5-coder"), settings)


def norm_request() -> CompletionRequest:
    return CompletionRequest(NORM, CURSOR, "python", "/tmp/norm.py")


def test_the_scope_stop_ends_the_http_stream() -> None:
    reply = Reply(content_events(NORM_TOKENS), delay_s=0.005)
    with ScriptedEngine({"/infill": [reply]}) as engine:
        completion = engine_for(engine, Settings(max_generate_ms=0)).complete(norm_request())
        assert engine.disconnected.wait(2)
    assert completion is not None
    assert completion.text == "r = math.sqrt(x**2 + y**2)"
    assert completion.stop_reason == StopReason.SUFFIX_REPEAT
    assert engine.events_sent < len(NORM_TOKENS) // 2


def test_max_generate_ms_ends_the_http_stream() -> None:
    lines = ["x = 1\n"] * 100
    with ScriptedEngine({"/infill": [Reply(content_events(lines), delay_s=0.02)]}) as engine:
        fim = engine_for(engine, Settings(max_generate_ms=100, scope_stop=False))
        completion = fim.complete(CompletionRequest("", 0, "python", "/tmp/x.py"))
        assert engine.disconnected.wait(2)
    assert completion is not None and completion.stop_reason == StopReason.MAX_TOKENS
    assert 2 <= completion.text.count("x = 1") < 20
    assert engine.events_sent < 30


def test_a_cancelled_request_closes_the_http_stream() -> None:
    reply = Reply(content_events(["    pass\n"] * 200), delay_s=0.01)
    cancel = threading.Event()
    with ScriptedEngine({"/infill": [reply]}) as engine:
        fim = engine_for(engine, Settings(max_generate_ms=0, scope_stop=False))
        threading.Timer(0.1, cancel.set).start()
        assert fim.complete(norm_request(), cancel) is None
        assert engine.disconnected.wait(2)
    assert engine.events_sent < 50
    assert fim.counters.cancelled == 1
