"""Settings: one fully-defaulted dataclass, camelCase on the wire, snake_case in Python.

Each setting is declared once, as its field of :class:`Settings`: its type and default, and in
the field's metadata how a wire value is read, whether changing it reloads the engine and its
command-line flag. The wire parsing, the server's reload decision, the flags of ``lsp-fim``
and the VS Code extension's test (``python -m lsp_fim.config --json``) are all derived from
it, so a setting added in one place cannot be missing from another.

Invalid values never stop the server: each falls back to its default and the problem is
reported back so the user can be told (``window/showMessage``) exactly which key was wrong.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any

from lsp_fim.privacy import validate_globs

# The embedded llama.cpp, then inference engines over HTTP (``lsp_fim.backends.http_engines``).
HTTP_BACKENDS = ("llama-server", "openai")
BACKENDS = ("llama-cpp", *HTTP_BACKENDS)

# The commands of ``lsp-fim`` whose flags set settings.
SERVE = "serve"
COMPLETE = "complete"


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string or null")
    return value.strip()


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a positive integer")
    return value


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected an integer >= 0")
    return value


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError("expected a number from 0 to 1")
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _languages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("expected a list of languageId strings or null")
    return tuple(value)


def _globs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("expected a list of glob strings or null")
    return validate_globs(value)


def _backend(value: Any) -> str:
    if value not in BACKENDS:
        raise ValueError(f"expected one of {', '.join(BACKENDS)}")
    return str(value)


MAX_ENV_NAME_LENGTH = 64
_ENV_NAME = re.compile(rf"[A-Za-z_][A-Za-z0-9_]{{0,{MAX_ENV_NAME_LENGTH - 1}}}")
# 16 or more letters and digits in a row, a digit among them: the shape of API keys and
# tokens (sk-…, ghp_…, hf_…, AKIA…), never seen in the names of environment variables.
_KEY_LIKE = re.compile(r"(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{16,}")


def env_var_name(value: Any) -> str:
    """``apiKeyEnv`` is only the NAME of the variable holding the key, since settings files
    are shared and committed; a key pasted there is refused, and the message never shows it."""
    name = value.strip() if isinstance(value, str) else ""
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(
            "expected the name of an environment variable (letters, digits and _, at most "
            f"{MAX_ENV_NAME_LENGTH} characters, e.g. VLLM_API_KEY), not the key itself"
        )
    if _KEY_LIKE.search(name):
        raise ValueError(
            "this looks like a key, not the name of an environment variable: put the key in "
            "an environment variable (e.g. export VLLM_API_KEY=...) and set its name here"
        )
    return name


@dataclass(frozen=True)
class Flag:
    """A setting's command-line flag: ``--NAME`` (snake_case to dashes), or ``--no-NAME`` for
    a boolean setting, which turns it off. Given, it replaces the setting's default."""

    help: str  # ``{default}`` in it is replaced by the setting's default
    commands: tuple[str, ...] = (SERVE, COMPLETE)
    metavar: str | None = None
    # The command-line text to the value the setting's ``parse`` checks (a wire value).
    type: Callable[[str], Any] = str


@dataclass(frozen=True)
class Setting:
    """What a field of :class:`Settings` declares besides its type and default."""

    parse: Callable[[Any], Any]  # a wire (JSON) value to the Python one; ValueError if invalid
    reloads_engine: bool = False  # else the loaded engine takes the change as it is
    flag: Flag | None = None
    choices: tuple[str, ...] | None = None  # the only values (shown as such by argparse)
    # False for a setting whose invalid value may be a secret pasted in the wrong place: a
    # problem with it names the setting but never shows the value (problems go to the editor
    # and to the log).
    echoed: bool = True


_DECLARATION = "lsp_fim.setting"


def _declare(setting: Setting) -> dict[str, Setting]:
    """A field's metadata holding its :class:`Setting`."""
    return {_DECLARATION: setting}


@dataclass(frozen=True)
class Settings:
    model: str | None = field(
        default=None,
        metadata=_declare(
            Setting(_text, reloads_engine=True, flag=Flag("GGUF path, known name or hub repo id"))
        ),
    )
    template: str | None = field(
        default=None,
        metadata=_declare(
            Setting(
                _text,
                reloads_engine=True,
                flag=Flag("FIM template name or .toml file (default: auto)", commands=(COMPLETE,)),
            )
        ),
    )
    max_tokens: int = field(
        default=128,
        metadata=_declare(
            Setting(
                _positive_int,
                flag=Flag(
                    "most tokens to generate (default {default})", commands=(COMPLETE,), type=int
                ),
            )
        ),
    )
    # Generation stops after this long (0: no limit), keeping the whole lines written so far:
    # a late suggestion is worth less than a shorter one, and accepting it brings the rest.
    max_generate_ms: int = field(
        default=500,
        metadata=_declare(
            Setting(
                _non_negative_int,
                flag=Flag(
                    "stop generating after this many ms, keeping whole lines "
                    "(default {default}; 0: no limit)",
                    commands=(COMPLETE,),
                    type=int,
                ),
            )
        ),
    )
    prefix_tokens: int = field(default=1024, metadata=_declare(Setting(_positive_int)))
    suffix_tokens: int = field(default=256, metadata=_declare(Setting(_non_negative_int)))
    # Open files that the current one names, given to the model where its template has a
    # multi-file form (0: none).
    context_file_tokens: int = field(default=512, metadata=_declare(Setting(_non_negative_int)))
    scope_stop: bool = field(
        default=True,
        metadata=_declare(
            Setting(_boolean, flag=Flag("disable the scope stop", commands=(COMPLETE,)))
        ),
    )
    # The in-process model checks several tokens drafted from the prompt in one decode
    # (``lsp_fim.backends.speculation``): the same text as without. Off by default: on 2 cores
    # it was not measurably faster (a decode costs nearly as much per token batched), and
    # under contention its batched decodes made the slowest answers slower (README).
    speculative_decoding: bool = field(
        default=False, metadata=_declare(Setting(_boolean, reloads_engine=True))
    )
    # Suggestions the model was less sure of than this (``lsp_fim.confidence``: the
    # probability of the whole suggestion) are not shown; 0 shows every one. Requests the user
    # makes explicitly are always answered. 0.001 hid 8 % of the default model's suggestions
    # on the quality sets and 4 % of those that pass; 0.01 hid good suggestions while typing,
    # whose probability a trailing comment brings down (README: Confidence).
    min_confidence: float = field(
        default=0.001,
        metadata=_declare(
            Setting(
                _fraction,
                flag=Flag(
                    "hide suggestions the model is less sure of (0-1, default {default})",
                    type=float,
                ),
            )
        ),
    )
    threads: int = field(
        default_factory=lambda: os.cpu_count() or 1,
        metadata=_declare(Setting(_positive_int, reloads_engine=True)),
    )
    enabled_languages: tuple[str, ...] | None = field(
        default=None, metadata=_declare(Setting(_languages))
    )
    backend: str = field(
        default="llama-cpp",
        metadata=_declare(
            Setting(
                _backend,
                reloads_engine=True,
                choices=BACKENDS,
                flag=Flag("inference backend (default: llama-cpp, in-process)"),
            )
        ),
    )
    backend_url: str | None = field(
        default=None,
        metadata=_declare(
            Setting(
                _text,
                reloads_engine=True,
                flag=Flag("address of an HTTP engine (llama-server default: 127.0.0.1:8080)"),
            )
        ),
    )
    backend_model: str | None = field(
        default=None,
        metadata=_declare(
            Setting(
                _text,
                reloads_engine=True,
                flag=Flag("model name sent to an OpenAI-compatible server"),
            )
        ),
    )
    api_key_env: str | None = field(
        default=None,
        metadata=_declare(
            Setting(
                env_var_name,
                reloads_engine=True,
                echoed=False,
                flag=Flag(
                    "NAME of the environment variable holding the engine's API key", metavar="VAR"
                ),
            )
        ),
    )
    # Globs of files never read into a prompt, added to ``lsp_fim.privacy.DEFAULT_DENY``.
    exclude: tuple[str, ...] = field(default=(), metadata=_declare(Setting(_globs)))
    # Count the suggestions the editor showed and those accepted, whole or in part, per language
    # and model, in a file of the user's cache (``lsp_fim.acceptance``); never sent anywhere.
    acceptance_stats: bool = field(default=True, metadata=_declare(Setting(_boolean)))

    def language_enabled(self, language_id: str | None) -> bool:
        if self.enabled_languages is None:
            return True
        return language_id is not None and language_id in self.enabled_languages


def wire_name(python_name: str) -> str:
    head, *rest = python_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def declaration(settings_field: Field[Any]) -> Setting:
    """The :class:`Setting` a field of :class:`Settings` declares; KeyError if it has none."""
    setting = settings_field.metadata[_DECLARATION]
    assert isinstance(setting, Setting)
    return setting


def declared_default(settings_field: Field[Any]) -> Any:
    """A field's declared default; None where it is worked out at start (``threads``)."""
    return None if settings_field.default is MISSING else settings_field.default


DECLARATIONS: dict[str, Setting] = {f.name: declaration(f) for f in fields(Settings)}
_BY_WIRE_NAME = {wire_name(name): name for name in DECLARATIONS}


def engine_reload_needed(old: Settings, new: Settings) -> bool:
    """Whether going from ``old`` to ``new`` changes a setting the engine is loaded with."""
    return any(
        getattr(old, name) != getattr(new, name)
        for name, setting in DECLARATIONS.items()
        if setting.reloads_engine
    )


def settings_from_wire(
    options: Mapping[str, Any] | None,
    base: Settings | None = None,
    defaults: Settings | None = None,
) -> tuple[Settings, list[str]]:
    """Apply camelCase ``options`` over ``base``; returns the result and one line per problem.
    A null value, and an invalid one, take the value in ``defaults``."""
    settings = base or Settings()
    defaults = defaults or Settings()
    problems: list[str] = []
    if options is None:
        return settings, problems
    if not isinstance(options, Mapping):
        return settings, [f"lspFim settings must be an object, got {type(options).__name__}"]
    changes: dict[str, Any] = {}
    for key, value in options.items():
        name = _BY_WIRE_NAME.get(key)
        if name is None:
            problems.append(f"unknown setting {key!r} ignored")
            continue
        if value is None:  # null puts a setting back to its default
            changes[name] = getattr(defaults, name)
            continue
        try:
            changes[name] = DECLARATIONS[name].parse(value)
        except ValueError as error:
            default = getattr(defaults, name)
            changes[name] = default
            shown = f"={value!r}" if DECLARATIONS[name].echoed else ""
            problems.append(f"setting {key}{shown}: {error}; using {default!r}")
    return replace(settings, **changes), problems


def describe() -> list[dict[str, Any]]:
    """The declarations as JSON values, for checks outside Python (the VS Code extension's
    test compares its package.json with them)."""
    return [
        {
            "name": wire_name(f.name),
            "default": declared_default(f),
            "reloadsEngine": declaration(f).reloads_engine,
            "choices": declaration(f).choices,
        }
        for f in fields(Settings)
    ]


if __name__ == "__main__":
    if sys.argv[1:] != ["--json"]:
        sys.exit("usage: python -m lsp_fim.config --json")
    print(json.dumps(describe(), indent=2))
