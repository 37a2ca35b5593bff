"""The per-language scope data: every shipped file loads, and a broken one says where."""

from __future__ import annotations

from typing import Any

import pytest

from lsp_fim.languages import known_languages
from lsp_fim.scope import supported_languages
from lsp_fim.scope.lexer import blank_out
from lsp_fim.scope.profiles import ScopeDataError, parse_profile, profile_for

REQUIRED = {
    "python",
    "javascript",
    "typescript",
    "tsx",
    "go",
    "rust",
    "c",
    "cpp",
    "java",
    "lua",
    "bash",
}


def test_every_required_language_has_a_grammar_and_scope_data() -> None:
    assert set(supported_languages()) >= REQUIRED
    for language in supported_languages():
        profile = profile_for(language)
        assert profile.grammar is not None and profile.grammar.scopes, language


def test_every_language_with_scope_data_is_known_by_name() -> None:
    assert set(supported_languages()) <= set(known_languages())


def test_a_language_without_data_gets_the_fallback() -> None:
    assert profile_for("ruby").name == "fallback"
    assert profile_for(None).grammar is None


def test_extends_merges_tables_key_by_key() -> None:
    tsx = profile_for("tsx")
    assert "interface_declaration" in tsx.grammar.scopes if tsx.grammar else False
    assert tsx.lexicon == profile_for("javascript").lexicon


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "grammar": {"module": "tree_sitter_python", "function": "language"},
        "nodes": {"scopes": ["function_definition"], "comments": ["comment"], "strings": []},
        "layout": {"indentation_significant": True, "block_opener": ":$"},
        "lexer": {"brackets": ["()"]},
    }
    for table, value in changes.items():
        data[table] = {**data[table], **value}
    return data


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        (
            {"nodes": {"scopes": ["function_defintion"]}},
            "`nodes.scopes` names 'function_defintion'",
        ),
        ({"layout": {"block_opener": "(:"}}, "`layout.block_opener` is not a valid regular"),
        ({"layout": {"indent": 4}}, "`layout.indent` is not a known key"),
        ({"lexer": {"brackets": ["(]["]}}, "`lexer.brackets` must hold two-character pairs"),
        ({"lexer": {"strings": [{"open": '"'}]}}, "`lexer.strings[0].close` is missing"),
        ({"grammar": {"module": "tree_sitter_klingon"}}, "`grammar.module` cannot give a grammar"),
    ],
)
def test_broken_data_is_reported_with_file_and_key(changes: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ScopeDataError) as raised:
        parse_profile("demo", _data(**changes), "grammars/demo/scope.toml")
    assert str(raised.value).startswith("grammars/demo/scope.toml: ")
    assert complaint in str(raised.value)


@pytest.mark.parametrize(
    ("language", "code", "blanked"),
    [
        ("python", 'x = "a(" # )\ny = 1', 'x = "  "    \ny = 1'),
        ("python", "s = '''(\n)'''", "s = ''' \n '''"),
        (
            "rust",
            "fn f<'a>(c: char) -> bool { c == '}' }",
            "fn f<'a>(c: char) -> bool { c == ' ' }",
        ),
        ("bash", "echo $# ${#a} # (", "echo $# ${#a}    "),
        ("lua", "x = [[ ( ]] --[[ ) ]] y", "x = [[   ]]           y"),
        ("go", "s := `\\`(", "s := ` `("),
        (None, 'x = ")"', 'x = ")"'),
    ],
)
def test_strings_and_comments_are_blanked(language: str | None, code: str, blanked: str) -> None:
    assert blank_out(code, profile_for(language).lexicon).text == blanked
