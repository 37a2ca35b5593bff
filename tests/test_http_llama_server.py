"""llama-server's /infill and /completion against a scripted engine: request bodies, stats,
stop strings, the cache switches, template detection through /props and /tokenize."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from scripted_http import Reply, ScriptedEngine, content_events, sse

from lsp_fim.backends.base import BackendError, FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.http_backend import HttpBackend
from lsp_fim.backends.http_stream import EngineAddress
from lsp_fim.backends.llama_server import (
    CompletionApi,
    InfillApi,
    LlamaServerVocabulary,
    open_llama_server,
)
from lsp_fim.prompt import ContextFile
from lsp_fim.templates import TemplateError, load_template

CODELLAMA = load_template("codellama")
PROMPT = FimPrompt(
    CODELLAMA.render_pieces("def f():\n    ", "\n"),
    "def f():\n    ",
    "\n",
    (ContextFile("util.py", "def g(): ...\n"),),
)
QWEN_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>")


def generate(
    backend: HttpBackend, stop: tuple[str, ...] = (), cancel: threading.Event | None = None
) -> tuple[list[str], GenerationStats]:
    stats = GenerationStats()
    request = GenerationRequest(PROMPT, 16, stop, cancel or threading.Event())
    return list(backend.stream(request, stats)), stats


def infill_backend(engine: ScriptedEngine) -> HttpBackend:
    address = EngineAddress.parse(engine.url)
    return HttpBackend(address, InfillApi(address), LlamaServerVocabulary(address))


def test_infill_sends_the_window_and_streams_the_content() -> None:
    with ScriptedEngine({"/infill": [Reply(content_events(["re", "turn 1"]))]}) as engine:
        pieces, _ = generate(infill_backend(engine), stop=("<|endoftext|>",))
    assert pieces == ["re", "turn 1"]
    [body] = engine.bodies("/infill")
    assert body["input_prefix"] == "def f():\n    " and body["input_suffix"] == "\n"
    assert body["input_extra"] == [{"filename": "util.py", "text": "def g(): ...\n"}]
    assert body["prompt"] == ""
    assert body["n_predict"] == 16 and body["stop"] == ["<|endoftext|>"]
    assert body["stream"] is True and body["cache_prompt"] is True
    assert body["temperature"] == 0 and body["timings_per_token"] is True


def test_stats_come_from_the_engine_timings() -> None:
    timings = {"prompt_n": 12, "prompt_ms": 80.5, "predicted_n": 2, "predicted_ms": 30.0}
    events = [
        sse({"content": "x", "tokens_evaluated": 40, "tokens_predicted": 1, "timings": timings}),
        sse({"content": "", "stop": True, "tokens_evaluated": 40, "tokens_predicted": 2}),
    ]
    with ScriptedEngine({"/infill": [Reply(list(events))]}) as engine:
        _, stats = generate(infill_backend(engine))
    assert (stats.prompt_tokens, stats.prompt_tokens_evaluated) == (40, 12)
    assert stats.generated_tokens == 2
    assert (stats.prompt_ms, stats.generate_ms) == (80.5, 30.0)


def test_a_stop_string_split_across_events_ends_the_stream_unseen() -> None:
    pieces = ["x = 1\n", "<|endof", "text|>", "never"] + ["y\n"] * 100
    with ScriptedEngine({"/infill": [Reply(content_events(pieces), delay_s=0.01)]}) as engine:
        got, _ = generate(infill_backend(engine), stop=("<|endoftext|>",))
        assert "".join(got) == "x = 1\n"
        assert engine.disconnected.wait(2)  # stopped reading: the engine stops generating


def test_a_malformed_count_is_an_error_that_names_the_url() -> None:
    events = [sse({"content": "x", "tokens_predicted": "many"})]
    with (
        ScriptedEngine({"/infill": [Reply(events)]}) as engine,
        pytest.raises(BackendError, match=r"/infill: malformed answer: tokens_predicted"),
    ):
        generate(infill_backend(engine))


def test_a_stream_that_breaks_off_before_its_stop_event_is_an_error() -> None:
    """An engine that dies mid-stream closes it cleanly: the text so far is not an answer."""
    events = content_events(["r = math.sq"])[:-1]  # without the last event, "stop": true
    with (
        ScriptedEngine({"/infill": [Reply(events)]}) as engine,
        pytest.raises(BackendError, match=r"/infill: the stream ended before"),
    ):
        generate(infill_backend(engine))


def test_infill_refused_by_a_model_without_fim_tokens() -> None:
    refusal = json.dumps(
        {"error": {"code": 501, "message": "Infill is not supported by this model: prefix "}}
    )
    with (
        ScriptedEngine({"/infill": [Reply(status=501, body=refusal)]}) as engine,
        pytest.raises(BackendError, match=r"HTTP 501.*Infill is not supported"),
    ):
        generate(infill_backend(engine))


MARKER_IDS = {"▁<PRE>": 32007, "▁<SUF>": 32008, "▁<MID>": 32009, "<s>": 1}


def scripted_tokenize(body: dict[str, Any]) -> Reply:
    """llama-server's /tokenize, one token per character of text; markers have their ids when
    special tokens are parsed, and "" is BOS when special tokens are added."""

    def tokens(text: str) -> list[int]:
        if body["parse_special"] and text in MARKER_IDS:
            return [MARKER_IDS[text]]
        return [1] if text == "" and body["add_special"] else [ord(c) + 1000 for c in text]

    content = body["content"]
    parts = content if isinstance(content, list) else [content]
    ids = [i for part in parts for i in ([part] if isinstance(part, int) else tokens(part))]
    return Reply(body=json.dumps({"tokens": ids}))


def completion_backend(address: EngineAddress) -> HttpBackend:
    return HttpBackend(address, CompletionApi(address, "<s>"), LlamaServerVocabulary(address))


def completion_engine() -> ScriptedEngine:
    return ScriptedEngine(
        {"/completion": [Reply(content_events(["pass"]))], "/tokenize": scripted_tokenize}
    )


def test_completion_sends_token_ids_so_that_user_text_is_never_a_marker() -> None:
    """llama-server parses special tokens in every text of a /completion prompt: the text is
    tokenized by /tokenize without, and the markers go as ids."""
    prefix = "x = '▁<MID>'"  # a document that contains a marker's text
    prompt = FimPrompt(CODELLAMA.render_pieces(prefix, "\n"), prefix, "\n")
    with completion_engine() as engine:
        address = EngineAddress.parse(engine.url)
        backend = completion_backend(address)
        for _ in range(2):
            stats = GenerationStats()
            request = GenerationRequest(prompt, 16, (), threading.Event())
            assert list(backend.stream(request, stats)) == ["pass"]
    text = [ord(c) + 1000 for c in prefix]
    # BOS once, from the server's rule for the model (the empty text in front), not ours.
    expected = [1, 32007, *text, 32008, ord("\n") + 1000, 32009]
    assert [body["prompt"] for body in engine.bodies("/completion")] == [expected, expected]
    tokenized = engine.bodies("/tokenize")
    # Each marker is asked for once, with special tokens parsed.
    markers = [body for body in tokenized if isinstance(body["content"], str)]
    assert sorted(body["content"] for body in markers) == ["▁<MID>", "▁<PRE>", "▁<SUF>"]
    assert all(body["parse_special"] for body in markers)
    prompts = [body for body in tokenized if isinstance(body["content"], list)]
    assert len(prompts) == 2
    for body in prompts:
        assert body["content"] == ["", 32007, prefix, 32008, "\n", 32009]
        assert body["parse_special"] is False and body["add_special"] is True


def test_malformed_token_ids_are_an_error_that_names_the_url() -> None:
    replies = {"/tokenize": [Reply(body='{"tokens": ["a"]}')]}
    with ScriptedEngine(replies) as engine:
        address = EngineAddress.parse(engine.url)
        backend = completion_backend(address)
        with pytest.raises(BackendError, match=r"/tokenize: malformed answer"):
            generate(backend)


def test_reset_cache_turns_the_prompt_cache_off_for_one_request() -> None:
    with ScriptedEngine({"/infill": [Reply(content_events(["a"]))]}) as engine:
        backend = infill_backend(engine)
        generate(backend)
        backend.reset_cache()
        generate(backend)
        generate(backend)
    assert [body["cache_prompt"] for body in engine.bodies("/infill")] == [True, False, True]


def test_prefill_evaluates_the_prompt_and_generates_nothing() -> None:
    events = [
        sse({"content": "", "stop": True, "tokens_evaluated": 40, "timings": {"prompt_n": 38}})
    ]
    with ScriptedEngine({"/infill": [Reply(events)]}) as engine:
        stats = GenerationStats()
        assert infill_backend(engine).prefill(PROMPT, threading.Event(), stats)
    [body] = engine.bodies("/infill")
    assert body["n_predict"] == 0 and body["cache_prompt"] is True
    assert stats.prompt_tokens_evaluated == 38


def test_a_cancelled_prefill_says_so() -> None:
    hold = threading.Event()
    cancel = threading.Event()
    with ScriptedEngine({"/infill": [Reply(content_events([""]), hold=hold)]}) as engine:
        threading.Timer(0.05, cancel.set).start()
        assert not infill_backend(engine).prefill(PROMPT, cancel, GenerationStats())
        hold.set()


def test_template_is_detected_from_the_server_vocabulary() -> None:
    engine = ScriptedEngine({"/props": [Reply(body='{"model_path": "/m/my-model.gguf"}')]})
    engine.tokenize = lambda text: [1] if text in QWEN_TOKENS else [1, 2]
    with engine:
        backend, template = open_llama_server(EngineAddress.parse(engine.url), None)
    assert template.name == "qwen2.5-coder"
    assert isinstance(backend.api, InfillApi)
    assert backend.vocabulary.metadata == {"general.name": "my-model"}


def test_a_chosen_template_uses_completion_and_asks_nothing_at_load() -> None:
    with ScriptedEngine() as engine:
        backend, template = open_llama_server(EngineAddress.parse(engine.url), "codellama")
    assert template.name == "codellama" and isinstance(backend.api, CompletionApi)
    assert engine.requests == []


def test_template_setting_is_named_when_detection_fails() -> None:
    engine = ScriptedEngine({"/props": [Reply(body='{"model_path": "/m/mystery.gguf"}')]})
    engine.tokenize = lambda text: [1, 2]
    with engine, pytest.raises(TemplateError, match="`template`"):
        open_llama_server(EngineAddress.parse(engine.url), None)


def test_an_engine_that_is_down_at_start_is_said_with_the_way_out() -> None:
    with ScriptedEngine() as engine:
        address = EngineAddress.parse(engine.url)
    with pytest.raises(BackendError, match=r"cannot reach .*/props.*set `template`"):
        open_llama_server(address, None)
