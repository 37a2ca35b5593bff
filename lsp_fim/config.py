"""Settings: one fully-defaulted dataclass, camelCase on the wire, snake_case in Python.

Invalid values never stop the server: each falls back to its default and the problem is
reported back so the user can be told (``window/showMessage``) exactly which key was wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from lsp_fim.privacy import validate_globs

# The embedded llama.cpp, then inference engines over HTTP (``lsp_fim.backends.http_engines``).
HTTP_BACKENDS = ("llama-server", "openai")
BACKENDS = ("llama-cpp", *HTTP_BACKENDS)


@dataclass(frozen=True)
class Settings:
    model: str | None = None
    template: str | None = None
    max_tokens: int = 128
    # Generation stops after this long (0: no limit), keeping the whole lines written so far:
    # a late suggestion is worth less than a shorter one, and accepting it brings the rest.
    max_generate_ms: int = 500
    prefix_tokens: int = 1024
    suffix_tokens: int = 256
    # Open files that the current one names, given to the model where its template has a
    # multi-file form (0: none).
    context_file_tokens: int = 512
    scope_stop: bool = True
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    enabled_languages: tuple[str, ...] | None = None
    backend: str = "llama-cpp"
    backend_url: str | None = None
    backend_model: str | None = None
    api_key_env: str | None = None
    # Globs of files never read into a prompt, added to ``lsp_fim.privacy.DEFAULT_DENY``.
    exclude: tuple[str, ...] = ()

    def language_enabled(self, language_id: str | None) -> bool:
        if self.enabled_languages is None:
            return True
        return language_id is not None and language_id in self.enabled_languages


def wire_name(python_name: str) -> str:
    head, *rest = python_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


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
# Settings whose invalid value may be a secret pasted in the wrong place: a problem with one
# names the setting but never shows the value (problems go to the editor and to the log).
_NOT_ECHOED = frozenset({"api_key_env"})


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


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "model": _text,
    "template": _text,
    "max_tokens": _positive_int,
    "max_generate_ms": _non_negative_int,
    "prefix_tokens": _positive_int,
    "suffix_tokens": _non_negative_int,
    "context_file_tokens": _non_negative_int,
    "scope_stop": _boolean,
    "threads": _positive_int,
    "enabled_languages": _languages,
    "backend": _backend,
    "backend_url": _text,
    "backend_model": _text,
    "exclude": _globs,
    "api_key_env": env_var_name,
}


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
    known = {wire_name(f.name): f.name for f in fields(Settings)}
    changes: dict[str, Any] = {}
    for key, value in options.items():
        if key not in known:
            problems.append(f"unknown setting {key!r} ignored")
            continue
        if value is None:  # null puts a setting back to its default
            changes[known[key]] = getattr(defaults, known[key])
            continue
        try:
            changes[known[key]] = _PARSERS[known[key]](value)
        except ValueError as error:
            default = getattr(defaults, known[key])
            changes[known[key]] = default
            shown = "" if known[key] in _NOT_ECHOED else f"={value!r}"
            problems.append(f"setting {key}{shown}: {error}; using {default!r}")
    return replace(settings, **changes), problems
