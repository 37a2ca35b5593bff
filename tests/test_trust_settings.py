"""``apiKeyEnv`` / ``--api-key-env`` name an environment variable, never hold a key: a key put
there by mistake is refused, and no message or log line shows it again; nor is the real key
(read from that variable) in any error or log line, even when the engine quotes it back."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import pytest
from scripted_http import Reply, ScriptedEngine

from lsp_fim.backends.base import BackendError, FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.http_engines import open_http_backend
from lsp_fim.cli import build_parser
from lsp_fim.config import MAX_ENV_NAME_LENGTH, Settings, settings_from_wire
from lsp_fim.templates import load_template

PROMPT = FimPrompt(load_template("qwen2.5-coder").render_pieces("x = ", "\n"), "x = ", "\n")

NAMES = ["VLLM_API_KEY", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "_key", "my_key_2", "HF_TOKEN"]
# Shapes of real keys and tokens (made up), and values that are no variable name at all.
NOT_NAMES = [
    "sk-proj-4f9Qa1Zb7Xc2Vd8Wy3Ue6Rt0",
    "ghp_Z2x9Qm4Lp7Rt1Vw8Ke3Yb6Nc0Ha5Ud2Sf4Gj",
    "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "Bearer abc",
    "KEY=value",
    "1KEY",
    "K" * (MAX_ENV_NAME_LENGTH + 1),
]


@pytest.mark.parametrize("name", NAMES)
def test_variable_names_are_accepted(name: str) -> None:
    settings, problems = settings_from_wire({"apiKeyEnv": f" {name} "})
    assert problems == []
    assert settings.api_key_env == name


@pytest.mark.parametrize("value", NOT_NAMES)
def test_anything_else_is_refused_without_being_shown(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    startup = Settings(api_key_env="VLLM_API_KEY")
    settings, problems = settings_from_wire({"apiKeyEnv": value}, startup, startup)
    assert settings.api_key_env == "VLLM_API_KEY"  # the command line's, as for any bad value
    [problem] = problems
    assert problem.startswith("setting apiKeyEnv: ")
    assert "environment variable" in problem
    for text in (problem, caplog.text):
        assert value not in text
        assert value[:8] not in text


def test_other_settings_still_show_the_value_they_refuse() -> None:
    _, problems = settings_from_wire({"maxTokens": -3})
    assert problems == ["setting maxTokens=-3: expected a positive integer; using 128"]


@pytest.mark.parametrize("command", ["serve", "complete"])
def test_the_command_line_refuses_a_key_without_printing_it(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["file.py", "--line", "0", "--character", "0"] if command == "complete" else []
    key = NOT_NAMES[1]
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, *extra, "--api-key-env", key])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--api-key-env" in err and "environment variable" in err
    assert key not in err and key[:8] not in err
    args = build_parser().parse_args([command, *extra, "--api-key-env", "VLLM_API_KEY"])
    assert args.api_key_env == "VLLM_API_KEY"


KEY_VARIABLE = "LSP_FIM_TEST_TRUST_KEY"
KEY = "sk-test-4f9Qa1Zb7Xc2Vd8Wy3Ue"


def test_the_key_is_in_no_log_line_and_no_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An engine that refuses the key and quotes it back: the error and the log lines about it
    (which quote the start of the engine's answer) do not carry the key."""
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    caplog.set_level(logging.DEBUG)
    refusal = Reply(status=401, body=f'{{"error": "invalid key {KEY}"}}')
    settings = Settings(
        backend="openai", backend_model="m", template="qwen2.5-coder", api_key_env=KEY_VARIABLE
    )
    with ScriptedEngine({"/v1/completions": [refusal]}) as engine:
        backend, _ = open_http_backend(replace(settings, backend_url=engine.url))
        request = GenerationRequest(PROMPT, 8, (), threading.Event())
        with pytest.raises(BackendError) as error:
            "".join(backend.stream(request, GenerationStats()))
    assert engine.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert "401" in str(error.value)
    assert KEY not in str(error.value)
    assert KEY not in caplog.text
