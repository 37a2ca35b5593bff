"""Token probabilities from engines over HTTP, against scripted engines: llama-server's
``completion_probabilities`` and both forms of ``/v1/completions``' ``logprobs`` land in
``stats.choices``; what does not read is dropped; an engine without them still answers; an
alternative's start reaches the engine; and the engine's confidence and alternatives follow."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

from scripted_http import Replies, Reply, ScriptedEngine, content_events, sse

from lsp_fim.backends.base import FimPrompt, GenerationRequest, GenerationStats, TokenChoice
from lsp_fim.backends.http_backend import MAX_CANDIDATES, HttpBackend
from lsp_fim.backends.http_stream import EngineAddress
from lsp_fim.backends.llama_server import InfillApi, LlamaServerVocabulary
from lsp_fim.backends.openai_completions import ModelNameVocabulary, OpenAICompletionsApi
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine, CompletionRequest, _with_start
from lsp_fim.templates import load_template

QWEN = load_template("qwen2.5-coder")
PROMPT = FimPrompt(QWEN.render_pieces("r = ", "\n"), "r = ", "\n")
STOP = ("<|endoftext|>",)

# (text, logprob, [(candidate, logprob), ...]) per token, as a model weighed them.
Step = tuple[str, Any, list[tuple[str, Any]]]
STEPS: list[Step] = [
    ("math", -0.5, [("math", -0.5), ("abs", -1.5), ("x", -2.0)]),
    (".sqrt", -0.1, [(".sqrt", -0.1), (".hypot", -2.5), ("", -3.0)]),
    ("(x", -0.2, [("(x", -0.2), ("<|endoftext|>", -1.0), ("(y", -3.0)]),
]


def llama_entry(text: Any, logprob: Any, candidates: list[tuple[Any, Any]]) -> dict[str, Any]:
    """llama-server's form; token ids are their text's hash, the same for the same text."""
    top = [
        {"id": hash(t), "token": t, "bytes": list(t.encode()) if isinstance(t, str) else t}
        | {"logprob": lp}
        for t, lp in candidates
    ]
    return {"id": hash(text), "token": text, "logprob": logprob, "top_logprobs": top}


def llama_events(steps: list[Step]) -> list[str | threading.Event]:
    events: list[str | threading.Event] = [
        sse({"content": text, "stop": False, "completion_probabilities": [llama_entry(*step)]})
        for step in steps
        for text in [step[0]]
    ]
    events.append(sse({"content": "", "stop": True}))
    return events


def infill_backend(engine: ScriptedEngine) -> HttpBackend:
    address = EngineAddress.parse(engine.url)
    return HttpBackend(address, InfillApi(address), LlamaServerVocabulary(address))


def openai_backend(engine: ScriptedEngine) -> HttpBackend:
    address = EngineAddress.parse(engine.url)
    api = OpenAICompletionsApi("/v1/completions", "m", QWEN.bos)
    return HttpBackend(address, api, ModelNameVocabulary("m"))


def generate(
    backend: HttpBackend, prompt: FimPrompt = PROMPT, max_tokens: int = 16
) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    request = GenerationRequest(prompt, max_tokens, STOP, threading.Event())
    return "".join(backend.stream(request, stats)), stats


EXPECTED = [
    TokenChoice(4, -0.5, (("abs", -1.5), ("x", -2.0))),
    # The empty candidate is no text of its own; the end-of-text one ends the generation.
    TokenChoice(9, -0.1, ((".hypot", -2.5),)),
    TokenChoice(11, -0.2, (("(y", -3.0),)),
]


def test_llama_server_probabilities_land_in_the_choices() -> None:
    with ScriptedEngine({"/infill": [Reply(llama_events(STEPS))]}) as engine:
        text, stats = generate(infill_backend(engine))
    assert text == "math.sqrt(x"
    assert stats.choices == EXPECTED
    [body] = engine.bodies("/infill")
    assert body["n_probs"] == 3


def test_openai_logprobs_land_in_the_choices() -> None:
    """OpenAI's form (vLLM): ``top_logprobs`` objects; a token that is not whole UTF-8 is
    spelled ``bytes:``."""
    events: list[str | threading.Event] = []
    for text, logprob, candidates in STEPS:
        top = dict(candidates) | {"bytes:\\xe2": -0.3}
        logprobs = {"tokens": [text], "token_logprobs": [logprob], "top_logprobs": [top]}
        choice = {"text": text, "index": 0, "finish_reason": None, "logprobs": logprobs}
        events.append(sse({"choices": [choice]}))
    events.append(sse({"choices": [{"text": "", "finish_reason": "stop", "logprobs": None}]}))
    with ScriptedEngine({"/v1/completions": [Reply(events)]}) as engine:
        text, stats = generate(openai_backend(engine))
    assert text == "math.sqrt(x"
    assert stats.choices == EXPECTED
    [body] = engine.bodies("/v1/completions")
    assert body["logprobs"] == 3


def test_llama_server_openai_logprobs_land_in_the_choices() -> None:
    """llama-server's /v1/completions sends its own entries under ``logprobs.content``."""
    events: list[str | threading.Event] = []
    for step in STEPS:
        logprobs = {"content": [llama_entry(*step)]}
        choice = {"text": step[0], "index": 0, "finish_reason": None, "logprobs": logprobs}
        events.append(sse({"choices": [choice]}))
    events.append(sse({"choices": [{"text": "", "finish_reason": "stop"}]}))
    with ScriptedEngine({"/v1/completions": [Reply(events)]}) as engine:
        _, stats = generate(openai_backend(engine))
    assert stats.choices == EXPECTED


def test_several_tokens_in_one_event_end_within_its_text() -> None:
    """Ends add up the tokens' texts, never past the event's text, and the last token ends
    with it (a token's text may be cut to whole characters)."""
    entries = [llama_entry("ab", -0.1, []), llama_entry("cdefgh", -0.2, [])]
    entries += [llama_entry("", -0.3, []), llama_entry("x", -0.4, [])]
    events = [sse({"content": "abcde", "completion_probabilities": entries})]
    events.append(sse({"content": "", "stop": True}))
    with ScriptedEngine({"/infill": [Reply(events)]}) as engine:
        _, stats = generate(infill_backend(engine))
    assert [choice.end for choice in stats.choices] == [2, 5, 5, 5]


def test_an_engine_without_probabilities_still_answers() -> None:
    old_form = [{"content": "x", "probs": [{"tok_str": "x", "prob": 0.9}]}]  # older builds
    events = [sse({"content": "r", "completion_probabilities": old_form})]
    events += content_events([" = 1"])
    openai = [sse({"choices": [{"text": "r = 1", "logprobs": None, "finish_reason": "stop"}]})]
    with ScriptedEngine({"/infill": [Reply(events)], "/v1/completions": [Reply(openai)]}) as engine:
        for backend in (infill_backend(engine), openai_backend(engine)):
            text, stats = generate(backend)
            assert text == "r = 1" and stats.choices == []


HOSTILE_LOGPROBS = [math.nan, math.inf, -math.inf, "-0.5", None, True, [-0.5], {"v": 1}]


def test_hostile_runners_up_are_dropped_and_a_positive_logprob_is_zero() -> None:
    not_numbers: list[tuple[Any, Any]] = [(f"c{i}", v) for i, v in enumerate(HOSTILE_LOGPROBS)]
    partial = {"id": 1, "token": "", "bytes": [0xC3], "logprob": -0.1}  # half of "é"
    first = llama_entry("y", 2.0, not_numbers[:7])
    first["top_logprobs"].insert(0, partial)
    first["top_logprobs"].append({"token": "late", "logprob": -0.2})  # past the cap
    assert len(first["top_logprobs"]) == MAX_CANDIDATES + 1
    not_texts: list[tuple[Any, Any]] = [(7, -0.1), (None, -0.1), ("x" * 5000, -0.1)]
    second = llama_entry("z", -0.1, [*not_texts, ("ok", 3.5), ("fine", -0.5)])
    events = [
        sse({"content": "y", "completion_probabilities": [first]}),
        sse({"content": "z", "completion_probabilities": [second]}),
        sse({"content": "", "stop": True}),
    ]
    with ScriptedEngine({"/infill": [Reply(events)]}) as engine:
        text, stats = generate(infill_backend(engine))
    assert text == "yz"
    assert stats.choices == [
        TokenChoice(1, 0.0, ()),
        TokenChoice(2, -0.1, (("ok", 0.0), ("fine", -0.5))),
    ]


def test_a_token_that_does_not_read_empties_the_choices_and_the_text_stands() -> None:
    """A token left out would shift every later branch: all or nothing."""
    for bad in [*HOSTILE_LOGPROBS, 1e999]:
        steps: list[Step] = [STEPS[0], ("y", bad, []), STEPS[2]]
        with ScriptedEngine({"/infill": [Reply(llama_events(steps))]}) as engine:
            text, stats = generate(infill_backend(engine))
        assert text == "mathy(x" and stats.choices == [], bad


def test_malformed_probability_containers_are_ignored() -> None:
    shapes: list[Any] = [None, 3, "x", {}, [], [None], [[1, 2]], [{"token": 5, "logprob": -1}]]
    shapes += [[llama_entry("a", -0.1, [])] * 65]  # more tokens in one event than ever sent
    for shape in shapes:
        events = [sse({"content": "a", "completion_probabilities": shape})]
        events.append(sse({"content": "", "stop": True}))
        with ScriptedEngine({"/infill": [Reply(events)]}) as engine:
            text, stats = generate(infill_backend(engine))
        assert text == "a" and stats.choices == [], shape
    openai_shapes: list[Any] = [
        {"tokens": ["a"], "token_logprobs": []},
        {"tokens": "a", "token_logprobs": [-0.1]},
        {"tokens": [1], "token_logprobs": [-0.1]},
        {"content": 5},
        {"tokens": ["a"], "token_logprobs": [-0.1], "top_logprobs": "x"},
    ]
    for shape in openai_shapes:
        choice = {"text": "a", "logprobs": shape, "finish_reason": "stop"}
        with ScriptedEngine({"/v1/completions": [Reply([sse({"choices": [choice]})])]}) as engine:
            text, stats = generate(openai_backend(engine))
        # The last one reads: its top_logprobs are none.
        expected = [TokenChoice(1, -0.1)] if "top_logprobs" in shape else []
        assert text == "a" and stats.choices == expected, shape


def test_choices_past_the_token_limit_are_dropped() -> None:
    """More tokens than asked for (in events without text): the choices are not the text's."""
    entries = [llama_entry("", -0.1, [])] * 10
    events = [sse({"content": "", "completion_probabilities": entries}) for _ in range(5)]
    events += llama_events([("a", -0.1, [])])
    with ScriptedEngine({"/infill": [Reply(events)]}) as engine:
        text, stats = generate(infill_backend(engine), max_tokens=16)
    assert text == "a" and stats.choices == []


def plain_tokenize(body: dict[str, Any]) -> Reply:
    """/tokenize: one id per character; ``<|fim_middle|>`` is one token when parsed."""
    text = body["content"]
    if body["parse_special"] and "<|fim_middle|>" in text:
        text = text.replace("<|fim_middle|>", "\x00")
    return Reply(body=json.dumps({"tokens": [ord(c) for c in text]}))


def test_an_alternatives_start_reaches_infill_in_its_prompt() -> None:
    started = _with_start(PROMPT, "math.hy")
    assert started.started == "math.hy" and started.text == PROMPT.text + "math.hy"
    special = _with_start(PROMPT, "x<|fim_middle|>")
    replies: dict[str, Replies] = {
        "/infill": [Reply(content_events(["pot"]))],
        "/tokenize": plain_tokenize,
    }
    with ScriptedEngine(replies) as engine:
        backend = infill_backend(engine)
        generate(backend, started)
        generate(backend, special)
        generate(backend)
    plain, marked, none = engine.bodies("/infill")
    assert (plain["input_prefix"], plain["prompt"]) == ("r = ", "math.hy")
    # llama-server parses special tokens in ``prompt``: such a start goes in the prefix.
    assert (marked["input_prefix"], marked["prompt"]) == ("r = x<|fim_middle|>", "")
    assert (none["input_prefix"], none["prompt"]) == ("r = ", "")
    assert len(engine.bodies("/tokenize")) == 4  # two per start, none without


def test_an_alternatives_start_reaches_openai_completions() -> None:
    events = [sse({"choices": [{"text": "pot", "finish_reason": "stop"}]})]
    with ScriptedEngine({"/v1/completions": [Reply(events)]}) as engine:
        generate(openai_backend(engine), _with_start(PROMPT, "math.hy"))
    [body] = engine.bodies("/v1/completions")
    assert body["prompt"].endswith("<|fim_middle|>math.hy")


NORM = "import math\n\n\ndef norm(x: float, y: float) -> float:\n    \n    return r\n"
CURSOR = NORM.index("    \n") + 4


def test_the_engine_has_confidence_and_alternatives_over_llama_server() -> None:
    """The greedy suggestion's tokens say where the model hesitated; each alternative is
    asked for with its start in ``prompt`` and continues from there."""
    first: list[Step] = [
        ("r", -0.1, [("r", -0.1), ("d", -1.0)]),
        (" = math.sqrt(x**2 + y**2)\n", -0.2, [(" = abs(x)\n", -2.0)]),
    ]
    after = {"d": " = math.hypot(x, y)\n", "r = abs(x)\n": ""}

    def reply(body: dict[str, Any]) -> Reply:
        start = body["prompt"]
        if not start:
            return Reply(llama_events(first))
        return Reply(llama_events([(after[start], -0.3, [])]))

    with ScriptedEngine({"/infill": reply, "/tokenize": plain_tokenize}) as engine:
        address = EngineAddress.parse(engine.url)
        backend = HttpBackend(address, InfillApi(address), LlamaServerVocabulary(address))
        fim = CompletionEngine(backend, QWEN, Settings(max_generate_ms=0))
        request = CompletionRequest(NORM, CURSOR, "python", "/tmp/norm.py")
        found = fim.complete_alternatives(request)
    texts = [completion.text for completion in found]
    assert texts == ["r = math.sqrt(x**2 + y**2)", "d = math.hypot(x, y)", "r = abs(x)"]
    assert found[0].confidence is not None
    assert math.isclose(found[0].confidence, math.exp(-0.1 - 0.2))  # the whole suggestion's
    assert [body["prompt"] for body in engine.bodies("/infill")] == ["", "d", "r = abs(x)\n"]
