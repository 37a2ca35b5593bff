import argparse
import json
import subprocess
import sys
from dataclasses import fields, replace
from typing import Any

import pytest

from lsp_fim.cli import _settings_from_flags, build_parser
from lsp_fim.config import (
    BACKENDS,
    DECLARATIONS,
    Setting,
    Settings,
    declaration,
    engine_reload_needed,
    settings_from_wire,
    wire_name,
)


def test_camel_case_settings_apply() -> None:
    settings, problems = settings_from_wire(
        {"maxTokens": 64, "prefixTokens": 512, "scopeStop": False, "enabledLanguages": ["python"]}
    )
    assert problems == []
    assert settings.max_tokens == 64
    assert settings.prefix_tokens == 512
    assert settings.scope_stop is False
    assert settings.enabled_languages == ("python",)


def test_invalid_values_fall_back_to_defaults_and_are_reported() -> None:
    base = Settings(max_tokens=32)
    settings, problems = settings_from_wire({"maxTokens": -3, "threads": "many"}, base)
    assert settings.max_tokens == Settings().max_tokens
    assert settings.threads == Settings().threads
    assert len(problems) == 2
    assert any("maxTokens" in problem for problem in problems)


def test_unknown_keys_and_non_objects_are_reported() -> None:
    _, problems = settings_from_wire({"modle": "x"})
    assert problems == ["unknown setting 'modle' ignored"]
    settings, problems = settings_from_wire(["not", "an", "object"])  # type: ignore[arg-type]
    assert settings == Settings()
    assert problems


def test_unknown_backend_is_rejected() -> None:
    settings, problems = settings_from_wire({"backend": "home-made"})
    assert settings.backend == "llama-cpp"
    assert problems and "llama-server" in problems[0] and "openai" in problems[0]


def test_http_backend_settings() -> None:
    wire = {
        "backend": "openai",
        "backendUrl": "http://gpu-box:8000",
        "backendModel": "Qwen/Qwen2.5-Coder-7B",
        "apiKeyEnv": "VLLM_API_KEY",
    }
    settings, problems = settings_from_wire(wire)
    assert problems == []
    assert (settings.backend, settings.backend_url) == ("openai", "http://gpu-box:8000")
    assert (settings.backend_model, settings.api_key_env) == (
        "Qwen/Qwen2.5-Coder-7B",
        "VLLM_API_KEY",
    )


def test_enabled_languages() -> None:
    assert Settings().language_enabled("anything")
    only_go = Settings(enabled_languages=("go",))
    assert only_go.language_enabled("go")
    assert not only_go.language_enabled("python")
    assert not only_go.language_enabled(None)


def test_null_puts_a_setting_back_to_its_default() -> None:
    base = Settings(threads=1, model="/m.gguf", max_tokens=16, enabled_languages=("python",))
    wire = {"threads": None, "model": None, "maxTokens": None, "enabledLanguages": None}
    settings, problems = settings_from_wire(wire, base)
    assert problems == []
    assert settings == Settings()


def test_null_and_invalid_values_take_the_command_line_defaults() -> None:
    command_line = Settings(model="/from/flag.gguf", backend="openai")
    edited = Settings(model="/edited.gguf", backend="llama-server", max_tokens=16)
    settings, problems = settings_from_wire(
        {"model": None, "backend": "no-such-engine", "maxTokens": None}, edited, command_line
    )
    assert settings.model == "/from/flag.gguf" and settings.backend == "openai"
    assert settings.max_tokens == Settings().max_tokens
    assert len(problems) == 1


# One declaration per setting -----------------------------------------------------------------

ENGINE_SETTINGS = {
    "model",
    "template",
    "threads",
    "backend",
    "backend_url",
    "backend_model",
    "speculative_decoding",
}
SERVE_FLAGS = {
    "--model",
    "--min-confidence",
    "--backend",
    "--backend-url",
    "--backend-model",
    "--api-key-env",
}
COMPLETE_FLAGS = SERVE_FLAGS | {
    "--template",
    "--max-tokens",
    "--max-generate-ms",
    "--no-scope-stop",
}


def _subcommand(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    subcommand = commands.choices[command]
    assert isinstance(subcommand, argparse.ArgumentParser)
    return subcommand


def _setting_flags(command: str) -> dict[str, str]:
    """The flags of ``command`` that set a setting: option string -> field name."""
    names = {f.name for f in fields(Settings)}
    return {
        option: action.dest
        for action in _subcommand(command)._actions
        if action.dest in names
        for option in action.option_strings
    }


def test_every_setting_has_exactly_one_declaration() -> None:
    """A field added to Settings without a declaration fails here (and on import)."""
    assert list(DECLARATIONS) == [f.name for f in fields(Settings)]
    for settings_field in fields(Settings):
        assert isinstance(settings_field.metadata.get("lsp_fim.setting"), Setting)
        assert declaration(settings_field) is DECLARATIONS[settings_field.name]


def test_every_declared_setting_is_read_from_the_wire_and_checked() -> None:
    for name in DECLARATIONS:
        _, problems = settings_from_wire({wire_name(name): object()})
        assert len(problems) == 1 and wire_name(name) in problems[0]


def test_the_engine_reloads_for_the_declared_settings_only() -> None:
    changed: dict[str, Any] = {
        "model": "/other.gguf",
        "template": "codellama",
        "threads": 3,
        "backend": "openai",
        "backend_url": "http://box:8000",
        "backend_model": "m",
        "api_key_env": "KEY_VAR",
        "max_tokens": 7,
        "max_generate_ms": 9,
        "prefix_tokens": 11,
        "suffix_tokens": 13,
        "context_file_tokens": 17,
        "scope_stop": False,
        "speculative_decoding": True,
        "min_confidence": 0.5,
        "enabled_languages": ("go",),
        "exclude": ("*.secret",),
        "acceptance_stats": False,
    }
    assert set(changed) == set(DECLARATIONS)
    base = Settings(threads=1)
    for name, value in changed.items():
        reloads = engine_reload_needed(base, replace(base, **{name: value}))
        assert reloads is DECLARATIONS[name].reloads_engine, name
    reloading = {name for name, setting in DECLARATIONS.items() if setting.reloads_engine}
    assert reloading == ENGINE_SETTINGS | {"api_key_env"}
    assert not engine_reload_needed(base, base)


def test_the_flags_are_the_declared_ones_with_their_names_kept() -> None:
    for command, expected in (("serve", SERVE_FLAGS), ("complete", COMPLETE_FLAGS)):
        flags = _setting_flags(command)
        assert set(flags) == expected
        declared = {
            name
            for name, setting in DECLARATIONS.items()
            if setting.flag is not None and command in setting.flag.commands
        }
        assert set(flags.values()) == declared
        for option, name in flags.items():
            assert wire_name(name).lower() == option.removeprefix("--no").replace("-", "")


def test_flags_give_the_settings_and_leave_the_rest_to_the_defaults() -> None:
    parser = build_parser()
    file_at = ["f.py", "--line", "0", "--character", "0"]
    assert _settings_from_flags(parser.parse_args(["serve"])) == Settings()
    assert _settings_from_flags(parser.parse_args(["complete", *file_at])) == Settings()
    argv = ["complete", *file_at, "--model", "m.gguf", "--template", "codellama"]
    argv += ["--max-tokens", "9", "--max-generate-ms", "0", "--no-scope-stop"]
    argv += ["--backend", "openai", "--backend-url", "http://box:8000", "--backend-model", "q"]
    argv += ["--api-key-env", "VLLM_API_KEY"]
    settings = _settings_from_flags(parser.parse_args(argv))
    assert settings == Settings(
        model="m.gguf",
        template="codellama",
        max_tokens=9,
        max_generate_ms=0,
        scope_stop=False,
        backend="openai",
        backend_url="http://box:8000",
        backend_model="q",
        api_key_env="VLLM_API_KEY",
    )
    serve = parser.parse_args(["serve", "--model", "m.gguf", "--backend", "llama-server"])
    assert _settings_from_flags(serve) == Settings(model="m.gguf", backend="llama-server")


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--max-tokens", "0", "expected a positive integer (got '0')"),
        ("--max-tokens", "many", "invalid int value: 'many'"),
        ("--max-generate-ms", "-1", "expected an integer >= 0"),
        ("--backend", "home-made", "invalid choice: 'home-made'"),
    ],
)
def test_a_flag_is_checked_as_its_setting_is(
    flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["complete", "f.py", "--line", "0", "--character", "0", flag, value]
        )
    assert message in capsys.readouterr().err


def test_help_texts_show_the_declared_defaults() -> None:
    help_text = " ".join(_subcommand("complete").format_help().split())
    assert "most tokens to generate (default 128)" in help_text
    assert "(default 500; 0: no limit)" in help_text


def test_the_declarations_as_json_for_the_editor_extensions() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lsp_fim.config", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    described = {item["name"]: item for item in json.loads(result.stdout)}
    assert list(described) == [wire_name(name) for name in DECLARATIONS]
    assert described["maxTokens"]["default"] == 128
    assert described["threads"]["default"] is None  # the core count, worked out at start
    assert described["exclude"]["default"] == []
    assert described["backend"]["choices"] == list(BACKENDS)
    assert described["apiKeyEnv"]["reloadsEngine"] is True
