"""Per-language scope knowledge, read from ``grammars/<language>/scope.toml``.

The code of the scope stop knows no language: what a block opener looks like, which brackets
and quotes there are, which tree-sitter node types are functions or comments, all comes from
these files. A file may name another with ``extends`` and then only says what differs; its
tables are merged key by key into the other's.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from tree_sitter import Language

from lsp_fim.languages import GRAMMAR_PACKAGE
from lsp_fim.toml_data import DataTable

FALLBACK = "fallback"
_MAX_EXTENDS = 4


class ScopeDataError(ValueError):
    """A shipped ``scope.toml`` that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Delimited:
    """A string or comment form. A form with ``max_length`` is a char literal: one character or
    one escape sequence, then the closing quote; anything else is no literal at all (Rust's
    ``'a'`` against the lifetime ``'a``)."""

    open: str
    close: str
    multiline: bool
    comment: bool
    escapes: bool = False
    max_length: int | None = None  # of an escape sequence in a char literal


@dataclass(frozen=True)
class Lexicon:
    """Enough of a language's lexical rules to blank out strings and comments."""

    brackets: Mapping[str, str]  # opener -> closer
    forms: tuple[Delimited, ...]  # longest opening text first, so '"""' wins over '"'
    comments_start_words: bool

    @property
    def closers(self) -> Mapping[str, str]:
        return {closer: opener for opener, closer in self.brackets.items()}


@dataclass(frozen=True)
class Layout:
    """Line patterns, matched against lines whose strings and comments are blanked out."""

    indentation_significant: bool
    block_opener: re.Pattern[str]
    block_closer: re.Pattern[str] | None
    clause: re.Pattern[str] | None  # goes on a statement begun above: else, except
    continuation: re.Pattern[str] | None
    terminator: re.Pattern[str] | None
    indent_exempt: re.Pattern[str] | None


@dataclass(frozen=True)
class Grammar:
    """The tree-sitter grammar and which of its node types matter to the scope stop."""

    language: Language
    scopes: frozenset[str]
    comments: frozenset[str]
    strings: frozenset[str]


@dataclass(frozen=True)
class ScopeProfile:
    name: str
    lexicon: Lexicon
    layout: Layout
    grammar: Grammar | None


def supported_languages() -> list[str]:
    """Languages with scope knowledge and a tree-sitter grammar of their own."""
    return sorted(name for name in _profile_names() if name != FALLBACK)


def profile_for(language: str | None) -> ScopeProfile:
    """The language's own profile, or the indentation-and-brackets fallback."""
    name = language if language in _profile_names() else FALLBACK
    return _profile(name)


@cache
def _profile_names() -> frozenset[str]:
    return frozenset(
        folder.name
        for folder in files(GRAMMAR_PACKAGE).iterdir()
        if folder.is_dir() and (folder / "scope.toml").is_file()
    )


@cache
def _profile(name: str) -> ScopeProfile:
    data, source = _merged_data(name)
    return parse_profile(name, data, source)


def parse_profile(name: str, data: Mapping[str, Any], source: str) -> ScopeProfile:
    """A profile from a ``scope.toml``'s tables (``extends`` already merged in)."""
    top = DataTable(data, source, ScopeDataError)
    top.expect_keys({"layout", "lexer"}, {"grammar", "nodes", "extends"})
    grammar = _grammar(top) if "grammar" in data else None
    return ScopeProfile(name, _lexicon(top.table("lexer")), _layout(top.table("layout")), grammar)


def _merged_data(name: str, depth: int = 0) -> tuple[dict[str, Any], str]:
    source = f"grammars/{name}/scope.toml"
    if name not in _profile_names():
        raise ScopeDataError(f"{source}: no such file")
    try:
        data = tomllib.loads((files(GRAMMAR_PACKAGE) / name / "scope.toml").read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ScopeDataError(f"{source}: not valid TOML: {error}") from error
    base_name = data.get("extends")
    if base_name is None:
        return data, source
    if not isinstance(base_name, str) or depth >= _MAX_EXTENDS:
        raise ScopeDataError(f"{source}: `extends` must name another language's folder")
    base, _ = _merged_data(base_name, depth + 1)
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged, source


def _grammar(top: DataTable) -> Grammar:
    binding = top.table("grammar")
    binding.expect_keys({"module", "function"})
    module_name, function_name = binding.text("module"), binding.text("function")
    try:
        language = Language(getattr(importlib.import_module(module_name), function_name)())
    except (ImportError, AttributeError) as error:
        raise binding.error("module", f"cannot give a grammar: {error}") from error
    nodes = top.table("nodes")
    nodes.expect_keys({"scopes", "comments", "strings"})
    return Grammar(
        language,
        _node_types(nodes, "scopes", language),
        _node_types(nodes, "comments", language),
        _node_types(nodes, "strings", language),
    )


def _lexicon(lexer: DataTable) -> Lexicon:
    lexer.expect_keys(
        {"brackets"}, {"line_comments", "block_comments", "strings", "comments_start_words"}
    )
    brackets = lexer.texts("brackets")
    if not all(len(pair) == 2 for pair in brackets):
        raise lexer.error("brackets", 'must hold two-character pairs such as "()"')
    forms = [Delimited(marker, "\n", False, True) for marker in lexer.texts("line_comments")]
    forms += [Delimited(o, c, True, True) for o, c in lexer.pairs("block_comments")]
    forms += [_string_form(entry) for entry in lexer.tables("strings")]
    return Lexicon(
        brackets={pair[0]: pair[1] for pair in brackets},
        forms=tuple(sorted(forms, key=lambda form: len(form.open), reverse=True)),
        comments_start_words=lexer.flag("comments_start_words"),
    )


def _string_form(entry: DataTable) -> Delimited:
    entry.expect_keys({"open", "close"}, {"multiline", "escapes", "max_length"})
    max_length = entry.data.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
        raise entry.error("max_length", "must be a whole number of at least 2")
    escapes = entry.data.get("escapes", True)
    if not isinstance(escapes, bool):
        raise entry.error("escapes", "must be true or false")
    return Delimited(
        entry.text("open"), entry.text("close"), entry.flag("multiline"), False, escapes, max_length
    )


def _layout(layout: DataTable) -> Layout:
    layout.expect_keys(
        {"indentation_significant", "block_opener"},
        {"block_closer", "clause", "continuation", "terminator", "indent_exempt"},
    )
    return Layout(
        indentation_significant=layout.flag("indentation_significant"),
        block_opener=layout.regex("block_opener"),
        block_closer=layout.optional_regex("block_closer"),
        clause=layout.optional_regex("clause"),
        continuation=layout.optional_regex("continuation"),
        terminator=layout.optional_regex("terminator"),
        indent_exempt=layout.optional_regex("indent_exempt"),
    )


def _node_types(table: DataTable, key: str, language: Language) -> frozenset[str]:
    """Names the grammar does not know are typos that would silently match nothing."""
    names = table.texts(key)
    for name in names:
        if not language.id_for_node_kind(name, True):
            raise table.error(key, f"names {name!r}, which is no node type of this grammar")
    return frozenset(names)
