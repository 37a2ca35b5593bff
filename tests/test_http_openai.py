"""OpenAI-compatible /v1/completions against a scripted engine, opened from settings as the
server opens it: request bodies, the API key from the named variable, usage, the template."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pytest
from scripted_http import Reply, ScriptedEngine, sse

from lsp_fim.backends.base import BackendError, FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.http_backend import HttpBackend
from lsp_fim.backends.http_engines import open_http_backend
from lsp_fim.config import Settings
from lsp_fim.templates import TemplateError, load_template

PROMPT = FimPrompt(load_template("qwen2.5-coder").render_pieces("x = ", "\n"), "x = ", "\n")
KEY_VARIABLE = "LSP_FIM_TEST_ENGINE_KEY"


def chunks(
    pieces: list[str], usage: dict[str, object] | None = None
) -> list[str | threading.Event]:
    events: list[str | threading.Event] = [
        sse({"choices": [{"text": piece, "index": 0, "finish_reason": None}]}) for piece in pieces
    ]
    events.append(sse({"choices": [{"text": "", "index": 0, "finish_reason": "stop"}]}))
    if usage is not None:
        events.append(sse({"choices": [], "usage": usage}))
    events.append("data: [DONE]\n\n")
    return events


def openai_settings(engine: ScriptedEngine, **changes: Any) -> Settings:
    settings = Settings(
        backend="openai", backend_url=engine.url, backend_model="qwen2.5-coder:1.5b"
    )
    return replace(settings, **changes)


def generate(backend: HttpBackend, prompt: FimPrompt = PROMPT) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    request = GenerationRequest(prompt, 32, ("<|endoftext|>",), threading.Event())
    return "".join(backend.stream(request, stats)), stats


def test_request_body_and_key_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "sk-secret")
    with ScriptedEngine({"/v1/completions": [Reply(chunks(["1", "2"]))]}) as engine:
        backend, template = open_http_backend(openai_settings(engine, api_key_env=KEY_VARIABLE))
        text, _ = generate(backend)
    assert text == "12" and template.name == "qwen2.5-coder"
    [request] = engine.requests
    assert request.headers["Authorization"] == "Bearer sk-secret"
    assert request.body == {
        "model": "qwen2.5-coder:1.5b",
        "prompt": PROMPT.text,
        "max_tokens": 32,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "logprobs": 3,
        "stop": ["<|endoftext|>"],
    }


def test_a_key_variable_that_is_not_set_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with ScriptedEngine() as engine, pytest.raises(BackendError, match=KEY_VARIABLE):
        open_http_backend(openai_settings(engine, api_key_env=KEY_VARIABLE))


def test_usage_gives_the_exact_counts() -> None:
    usage = {
        "prompt_tokens": 50,
        "completion_tokens": 3,
        "prompt_tokens_details": {"cached_tokens": 45},
    }
    with ScriptedEngine({"/v1/completions": [Reply(chunks(["a", "b"], usage))]}) as engine:
        backend, _ = open_http_backend(openai_settings(engine))
        _, stats = generate(backend)
    assert (stats.prompt_tokens, stats.prompt_tokens_evaluated, stats.generated_tokens) == (
        50,
        5,
        3,
    )
    assert stats.generate_ms >= 0 and stats.prompt_ms > 0  # timed here: the engine did not


def test_pieces_are_counted_until_usage_comes() -> None:
    with ScriptedEngine({"/v1/completions": [Reply(chunks(["a", "b", "c"]))]}) as engine:
        backend, _ = open_http_backend(openai_settings(engine))
        _, stats = generate(backend)
    assert stats.generated_tokens == 3


def test_a_base_url_ending_in_v1_is_not_doubled() -> None:
    with ScriptedEngine({"/v1/completions": [Reply(chunks(["ok"]))]}) as engine:
        backend, _ = open_http_backend(openai_settings(engine, backend_url=engine.url + "/v1/"))
        assert generate(backend)[0] == "ok"
    assert [request.path for request in engine.requests] == ["/v1/completions"]


def test_without_backend_model_the_first_served_model_is_used() -> None:
    models = {"object": "list", "data": [{"id": "deepseek-coder-1.3b-base"}, {"id": "other"}]}
    replies = {
        "/v1/models": [Reply(body=json.dumps(models))],
        "/v1/completions": [Reply(chunks(["ok"]))],
    }
    with ScriptedEngine(replies) as engine:
        backend, template = open_http_backend(openai_settings(engine, backend_model=None))
        prompt = FimPrompt(template.render_pieces("x = ", "\n"), "x = ", "\n")
        generate(backend, prompt)
        rendered = prompt.text
    assert template.name == "deepseek-coder"
    [body] = engine.bodies("/v1/completions")
    assert body["model"] == "deepseek-coder-1.3b-base"
    # The server adds the model's BOS itself: the template's is not sent a second time.
    assert template.bos and rendered.startswith(template.bos)
    assert body["prompt"] == rendered.removeprefix(template.bos)


def test_a_model_name_that_names_no_template_asks_for_the_setting() -> None:
    with ScriptedEngine() as engine, pytest.raises(TemplateError, match=r"set `template`"):
        open_http_backend(openai_settings(engine, backend_model="my-finetune"))


def test_a_chosen_template_wins_over_the_name() -> None:
    with ScriptedEngine() as engine:
        _, template = open_http_backend(
            openai_settings(engine, backend_model="my-finetune", template="starcoder2")
        )
    assert template.name == "starcoder2" and engine.requests == []


def test_openai_needs_a_url() -> None:
    with pytest.raises(BackendError, match="backendUrl"):
        open_http_backend(Settings(backend="openai", backend_model="m"))


def test_prefill_sends_nothing() -> None:
    with ScriptedEngine() as engine:
        backend, _ = open_http_backend(openai_settings(engine))
        assert backend.prefill(PROMPT, threading.Event(), GenerationStats())
    assert engine.requests == []


def test_a_stream_cut_off_before_its_finish_reason_is_an_error_not_a_suggestion() -> None:
    """llama-cpp-python's server ends a stream with ``[DONE]`` and no finish reason when another
    request arrives: the half-written text must not pass for the whole answer."""
    cut_off = [sse({"choices": [{"text": "r = math.sq", "index": 0, "finish_reason": None}]})]
    cut_off.append("data: [DONE]\n\n")
    with (
        ScriptedEngine({"/v1/completions": [Reply(cut_off)]}) as engine,
        pytest.raises(BackendError, match=r"/v1/completions: the stream ended before"),
    ):
        generate(open_http_backend(openai_settings(engine))[0])
