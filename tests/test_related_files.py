"""Context from the other files the user works in: which files, which lines, how many."""

from __future__ import annotations

import pytest

from lsp_fim.context import RELATED_FILE_TOKENS, related_snippets
from lsp_fim.related_files import RecentDocuments, RelatedDocument, is_named_in


def words(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def numbered(name: str, count: int) -> str:
    return "".join(f"{name}{n} a b\n" for n in range(count))


def test_recent_documents_are_newest_first_without_the_current_one() -> None:
    recent = RecentDocuments(limit=3)
    for uri, line in [("a", 1), ("b", 2), ("c", 3), ("a", 7)]:
        recent.touch(uri, line)
    assert recent.others("c") == [("a", 7), ("b", 2)]
    recent.touch("d", 0)
    assert recent.others("x") == [("d", 0), ("a", 7), ("c", 3)]  # b, the oldest, fell out
    recent.forget("a")
    assert recent.others("d") == [("c", 3)]


def test_a_snippet_is_the_lines_around_where_the_user_worked() -> None:
    text = numbered("line", 200)
    document = RelatedDocument("lib/util.py", text, text.index("line100 "))
    (snippet,) = related_snippets([document], 1000, words)
    assert snippet.path == "lib/util.py"
    assert "line100 a b\n" in snippet.text
    assert "line0 a b\n" not in snippet.text and "line199" not in snippet.text
    assert words(snippet.text) <= RELATED_FILE_TOKENS


def test_the_budget_is_shared_newest_first() -> None:
    texts = [numbered(f"f{n}_", 300) for n in range(5)]
    documents = [RelatedDocument(f"f{n}.py", t, t.index(f"f{n}_150")) for n, t in enumerate(texts)]
    snippets = related_snippets(documents, 600, words)
    assert [s.path for s in snippets] == ["f0.py", "f1.py", "f2.py"]
    assert sum(words(s.text) for s in snippets) <= 600
    assert related_snippets(documents, 0, words) == ()


def test_a_line_too_long_for_its_share_is_left_out() -> None:
    huge = RelatedDocument("min.js", "x " * 5000 + "\n", 0)
    small = RelatedDocument("a.py", "def helper():\n    pass\n", 0)
    snippets = related_snippets([huge, small], 512, words)
    assert [s.path for s in snippets] == ["a.py"]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/p/helpers.py", "import helpers\n"),
        ("/p/lib/helpers.py", "from lib.helpers import count\n"),
        ("/p/ini.js", "const ini = require('./ini')\n"),
        ("/p/sha256.h", '#include "sha256.h"\n'),
        ("/p/Graph.java", "Graph g = new Graph();\n"),
    ],
)
def test_a_file_the_document_names_is_related(path: str, text: str) -> None:
    assert is_named_in(path, text)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/p/helpers.py", "import helper_utils\nhelpers_count = 1\n"),
        ("/p/graphlib.py", "def f(xs):\n    return sorted(xs)\n"),
        ("/p/io.c", "io = 1\n"),  # a stem this short names other things too
        ("/p/norm.py", "import math\n\n\ndef norm(x, y):\n    return 0\n"),
        ("/p/Graph.java", "public class Graph {\n}\n"),
    ],
)
def test_a_file_the_document_does_not_name_is_not(path: str, text: str) -> None:
    assert not is_named_in(path, text)
