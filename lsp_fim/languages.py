"""Maps LSP ``languageId`` values and file extensions to lsp-fim's canonical language names.

The tables are data: each folder of ``grammars/`` that holds a ``language.toml`` is one
language, named after the folder, with the ids editors send for it and its file extensions.
A new language is a new folder, not new code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import PurePath
from typing import Any

GRAMMAR_PACKAGE = "lsp_fim.grammars"


class LanguageDataError(ValueError):
    """A shipped ``language.toml`` that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Language:
    """One language as editors and file names show it; ``code`` is false for prose."""

    name: str
    ids: tuple[str, ...]
    extensions: tuple[str, ...]
    code: bool


def language_for(language_id: str | None, path: str | None) -> str | None:
    """The canonical language, from the editor's ``languageId`` first, else the file name."""
    by_id, by_extension = _tables()
    if language_id and language_id.lower() in by_id:
        return by_id[language_id.lower()]
    if path:
        return by_extension.get(PurePath(path).suffix.lower())
    return None


def language_id_for_path(path: str) -> str:
    """The ``languageId`` an editor would send for ``path`` (used by the CLI)."""
    return language_for(None, path) or PurePath(path).suffix.lstrip(".").lower() or "plaintext"


def is_code(language: str | None) -> bool:
    """Whether text in ``language`` is code; unknown languages are taken to be code."""
    known = _languages()
    return language not in known or known[language].code


def known_languages() -> list[str]:
    return sorted(_languages())


@cache
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    by_id: dict[str, str] = {}
    by_extension: dict[str, str] = {}
    for language in _languages().values():
        for language_id in language.ids:
            by_id[language_id] = language.name
        for extension in language.extensions:
            by_extension[extension] = language.name
    return by_id, by_extension


@cache
def _languages() -> dict[str, Language]:
    found = (
        _load(folder.name, folder / "language.toml")
        for folder in files(GRAMMAR_PACKAGE).iterdir()
        if folder.is_dir() and (folder / "language.toml").is_file()
    )
    return {language.name: language for language in found}


def _load(name: str, resource: Traversable) -> Language:
    return parse_language(name, resource.read_text(encoding="utf-8"))


def parse_language(name: str, text: str) -> Language:
    """The language described by ``grammars/<name>/language.toml``, whose text is ``text``."""
    source = f"grammars/{name}/language.toml"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LanguageDataError(f"{source}: not valid TOML: {error}") from error
    unknown = sorted(data.keys() - {"ids", "extensions", "code"})
    if unknown:
        raise LanguageDataError(f"{source}: `{unknown[0]}` is not a known key")
    code = data.get("code", True)
    if not isinstance(code, bool):
        raise LanguageDataError(f"{source}: `code` must be true or false")
    extensions = _lowercase_texts(data, "extensions", source)
    if not all(extension.startswith(".") for extension in extensions):
        raise LanguageDataError(f"{source}: every one of `extensions` must start with '.'")
    return Language(name, _lowercase_texts(data, "ids", source), extensions, code)


def _lowercase_texts(data: dict[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise LanguageDataError(f"{source}: `{key}` must be a non-empty list of non-empty strings")
    return tuple(v.lower() for v in value)
