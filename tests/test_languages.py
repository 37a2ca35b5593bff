"""Language names from editors' ids and file names, read from grammars/*/language.toml."""

from __future__ import annotations

import pytest

from lsp_fim.languages import (
    LanguageDataError,
    is_code,
    known_languages,
    language_for,
    language_id_for_path,
    parse_language,
)


@pytest.mark.parametrize(
    ("language_id", "path", "expected"),
    [
        ("python", None, "python"),
        ("typescriptreact", "a.ts", "tsx"),
        ("shellscript", None, "bash"),
        ("JavaScriptReact", None, "javascript"),
        (None, "/src/main.RS", "rust"),
        (None, "x.hpp", "cpp"),
        ("unknown-id", "lib.lua", "lua"),
        ("unknown-id", "notes", None),
        (None, None, None),
    ],
)
def test_language_for(language_id: str | None, path: str | None, expected: str | None) -> None:
    assert language_for(language_id, path) == expected


def test_language_id_for_path() -> None:
    assert language_id_for_path("a/b.py") == "python"
    assert language_id_for_path("x.weird") == "weird"
    assert language_id_for_path("Makefile") == "plaintext"


def test_prose_is_not_code_and_unknown_languages_are() -> None:
    assert not is_code("markdown")
    assert not is_code("plaintext")
    assert is_code("python")
    assert is_code(None)
    assert is_code("klingon")


def test_the_required_languages_are_known() -> None:
    required = {"python", "javascript", "typescript", "tsx", "go", "rust", "c", "cpp", "java"}
    assert required | {"lua", "bash"} <= set(known_languages())


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('ids = ["x"]\nextensions = ["x"]', "every one of `extensions` must start with '.'"),
        ('ids = []\nextensions = [".x"]', "`ids` must be a non-empty list"),
        ('ids = ["x"]\nextensions = [".x"]\ncode = "yes"', "`code` must be true or false"),
        ('ids = ["x"]\nextensions = [".x"]\nid = "x"', "`id` is not a known key"),
        ("ids = [", "not valid TOML"),
    ],
)
def test_broken_language_data_names_the_file(text: str, complaint: str) -> None:
    with pytest.raises(LanguageDataError) as raised:
        parse_language("demo", text)
    assert str(raised.value).startswith("grammars/demo/language.toml: ")
    assert complaint in str(raised.value)
