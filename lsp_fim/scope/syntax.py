"""Tree-sitter's view of the window around the cursor, with and without a suggestion in it.

Only a window of the document is parsed (a top-level boundary before the cursor to some lines
after it), so that a check costs a few milliseconds on any file. The window alone often has
errors of its own — the code being written is incomplete — so a suggestion is judged by the
errors it adds, never by a clean parse.
"""

from __future__ import annotations

from tree_sitter import Node, Parser, Tree

from lsp_fim.scope.lines import indent_width
from lsp_fim.scope.profiles import Grammar

# Nodes looked at on the way up from the cursor (real code nests a few dozen deep).
MAX_ANCESTORS = 512


class WindowSyntax:
    def __init__(self, grammar: Grammar, before: str, after: str) -> None:
        self._grammar = grammar
        self._parser = Parser(grammar.language)
        self._before = before.encode()
        self._after = after.encode()
        self._baseline_tree = self._parser.parse(self._before + self._after)
        self._baseline_errors = _error_count(self._baseline_tree.root_node)
        self._errors: dict[str, int] = {}
        self._in_literal: dict[tuple[str, int], bool] = {}
        self._last_parse = ("", self._baseline_tree)

    def adds_no_errors(self, inserted: str) -> bool:
        """Whether the window with ``inserted`` at the cursor has no more errors than without."""
        return self._error_count(inserted) <= self._baseline_errors

    @property
    def has_errors(self) -> bool:
        """Whether the window has errors without a suggestion (the code is being written)."""
        return self._baseline_errors > 0

    def mends(self, inserted: str) -> bool:
        """Whether the window, which has errors without ``inserted``, has none with it: the text
        before and after the cursor did not fit together, and now they do."""
        return self._baseline_errors > 0 and self._error_count(inserted) == 0

    def _error_count(self, inserted: str) -> int:
        if inserted not in self._errors:
            self._errors[inserted] = _error_count(self._parse(inserted).root_node)
        return self._errors[inserted]

    def in_string_or_comment(self, inserted: str, offset: int) -> bool:
        """Whether character ``offset`` of ``inserted`` lies in a string or comment, which the
        light lexer may have missed (regular expressions, raw strings)."""
        if (inserted, offset) not in self._in_literal:
            start = len(self._before) + len(inserted[:offset].encode())
            root = self._parse(inserted).root_node
            node = root.descendant_for_byte_range(start, start + 1)
            literal_types = self._grammar.comments | self._grammar.strings
            while node is not None and node.type not in literal_types:
                node = node.parent
            self._in_literal[(inserted, offset)] = node is not None
        return self._in_literal[(inserted, offset)]

    def starts_scope(self, inserted: str, offset: int) -> bool:
        """Whether a scope node (a function, a class) begins at character ``offset``."""
        start = len(self._before) + len(inserted[:offset].encode())
        node: Node | None = self._parse(inserted).root_node.descendant_for_byte_range(start, start)
        while node is not None and node.start_byte == start:
            if node.type in self._grammar.scopes:
                return True
            node = node.parent
        return False

    def scope_indents(self, at_last_code: bool) -> tuple[int, ...]:
        """Indentation of the first lines of the scopes around the cursor, outermost first.

        ``at_last_code``: look from the last character of code before the cursor rather than
        from the cursor itself — in indentation languages a scope's node ends with its last
        statement, while the cursor may sit on a blank line after it, still inside.
        """
        position = len(self._before)
        if at_last_code:
            position = len(self._before.rstrip()) - 1
        if position < 0:
            return ()
        root = self._baseline_tree.root_node
        node: Node | None = root.descendant_for_byte_range(position, position)
        lines = self._before.split(b"\n")
        indents: list[int] = []
        # Each step up costs tree-sitter a walk from the root: 10,000 nested brackets would
        # cost 10,000² steps; scopes further out than this are not worth it.
        for _ in range(MAX_ANCESTORS):
            if node is None:
                break
            if node.type in self._grammar.scopes and node.start_point.row < len(lines):
                indents.append(indent_width(lines[node.start_point.row].decode(errors="replace")))
            node = node.parent
        return tuple(reversed(indents))

    def _parse(self, inserted: str) -> Tree:
        """The last parse is kept: a rule often asks twice about one suggestion."""
        if self._last_parse[0] != inserted:
            tree = self._parser.parse(self._before + inserted.encode() + self._after)
            self._last_parse = (inserted, tree)
        return self._last_parse[1]


def _error_count(root: Node) -> int:
    """ERROR and MISSING nodes; subtrees without errors are never visited."""
    count = 0
    pending = [root]
    while pending:
        node = pending.pop()
        if node.is_error or node.is_missing:
            count += 1
        elif node.has_error:
            pending.extend(node.children)
    return count
