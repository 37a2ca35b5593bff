"""``lsp-fim complete`` with the backend flags, against a scripted engine (no model)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from scripted_http import Reply, ScriptedEngine, content_events, sse
from test_http_engine import NORM

from lsp_fim.cli import main

# The scripted engines answer for the norm example's empty body line.
CURSOR = ["--line", "4", "--character", "4"]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    path = tmp_path / "norm.py"
    path.write_text(NORM, encoding="utf-8")
    return path


def test_complete_through_openai_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, example: Path
) -> None:
    monkeypatch.setenv("LSP_FIM_TEST_KEY", "sk-cli")
    events = [
        sse({"choices": [{"text": piece}]}) for piece in ("r = x", " + y\n", "    return r\n")
    ]
    usage = {"prompt_tokens": 33, "completion_tokens": 3}
    events += [sse({"choices": [], "usage": usage}), "data: [DONE]\n\n"]
    with ScriptedEngine({"/v1/completions": [Reply(list(events))]}) as engine:
        flags = ["--backend", "openai", "--backend-url", engine.url, "--api-key-env"]
        flags += ["LSP_FIM_TEST_KEY", "--backend-model", "qwen2.5-coder-7b", "--max-tokens", "9"]
        assert main(["complete", str(example), *CURSOR, "--json", *flags]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["text"] == "r = x + y" and answer["template"] == "qwen2.5-coder"
    assert answer["stop_reason"] == "suffix_repeat"
    [request] = engine.requests
    assert request.body["model"] == "qwen2.5-coder-7b" and request.body["max_tokens"] == 9
    assert request.headers["Authorization"] == "Bearer sk-cli"


def scripted_token_ids(content: str | list[str | int]) -> list[int]:
    """/tokenize: a marker asked for alone is id 99, text one id per character."""
    if isinstance(content, str):
        return [99]
    return [i for part in content for i in ([part] if isinstance(part, int) else map(ord, part))]


def test_complete_through_llama_server_with_a_chosen_template(
    capsys: pytest.CaptureFixture[str], example: Path
) -> None:
    replies = {"/completion": [Reply(content_events(["r = 0\n", "    return r\n"]))]}
    engine = ScriptedEngine(replies)
    engine.tokenize = scripted_token_ids
    with engine:
        flags = ["--backend", "llama-server", "--backend-url", engine.url]
        assert main(["complete", str(example), *CURSOR, *flags, "--template", "codellama"]) == 0
    assert capsys.readouterr().out == "r = 0\n"
    # "▁<PRE>" as its id, then "import math" as text: the prompt goes as token ids.
    assert engine.bodies("/completion")[0]["prompt"][:3] == [99, ord("i"), ord("m")]


def test_an_engine_that_is_down_is_said_on_stderr(
    capsys: pytest.CaptureFixture[str], example: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    flags = ["--backend", "openai", "--backend-url", url, "--backend-model", "starcoder2-3b"]
    assert main(["complete", str(example), *CURSOR, *flags]) == 1
    error = capsys.readouterr().err
    assert f"cannot reach the inference engine at {url}/v1/completions" in error
