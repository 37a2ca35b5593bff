"""The scope stop on Python: indentation decides where blocks end."""

from __future__ import annotations

from test_scope_streams import play

from lsp_fim.scope import StopReason

NORM_PREFIX = "import math\n\n\ndef norm(x: float, y: float) -> float:\n    "
NORM_RUNAWAY = (
    "r = math.sqrt(x**2 + y**2)\n    return r\n\n"
    "def distance(x1: float, y1: float, x2: float, y2: float) -> float:\n"
    "    return norm(x2 - x1, y2 - y1)\n"
)


def test_norm_stops_before_the_line_the_suffix_already_has() -> None:
    played = play("python", NORM_PREFIX, "\n    return r\n", NORM_RUNAWAY)
    assert played.kept.rstrip() == "r = math.sqrt(x**2 + y**2)"
    assert played.reason is StopReason.SUFFIX_REPEAT
    assert played.fed is not None and "def" not in NORM_RUNAWAY[: played.fed]


def test_dedented_def_after_the_body_closes_the_scope() -> None:
    played = play("python", NORM_PREFIX, "", NORM_RUNAWAY)
    assert played.kept.rstrip() == "r = math.sqrt(x**2 + y**2)\n    return r"
    assert played.reason is StopReason.SCOPE_CLOSED
    assert played.fed is not None and played.fed <= NORM_RUNAWAY.index("def distance") + 4


def test_return_then_new_code_stops_at_the_end_of_the_line() -> None:
    prefix = "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return "
    suggestion = "json.load(f)\n\n\ndef save(path, data):\n    with open(path, 'w') as f:\n"
    played = play("python", prefix, "\n", suggestion)
    assert played.kept == "json.load(f)"
    assert played.reason is StopReason.LINE_COMPLETE
    assert played.fed is not None and played.fed <= len("json.load(f)\n") + 3


def test_nested_call_hole_stops_at_the_bracket_the_suffix_closes() -> None:
    played = play("python", "x = 1\nprint(foo(", "))\n", "x, bar(1)))\nprint(2)\n")
    assert played.kept == "x, bar(1)"
    assert played.reason is StopReason.LINE_COMPLETE


def test_brackets_inside_strings_and_comments_are_not_code() -> None:
    played = play("python", "print(foo(", "))\n", "\"a)b\", ')'  # )\n))\n")
    assert played.kept == "\"a)b\", ')'  # )\n"
    docstring = play("python", "def f():\n    ", "\n", '"""(x]"""\n    return 1\n\n\nx = 2\n')
    assert docstring.kept == '"""(x]"""\n    return 1'


def test_cursor_on_a_block_opener_writes_the_body() -> None:
    suggestion = "\n    y = x * 2\n    return y\n\n\ndef h():\n    pass\n"
    played = play("python", "def f(x):", "\n\n\ndef g():\n    pass\n", suggestion)
    assert played.kept.rstrip() == "\n    y = x * 2\n    return y"
    assert played.reason is StopReason.SCOPE_CLOSED


def test_a_line_opening_a_block_goes_on_into_its_body() -> None:
    played = play(
        "python", "def f(xs):\n    for x in ", "\n", "xs:\n        print(x)\n    return\n"
    )
    assert played.kept.rstrip() == "xs:\n        print(x)"


def test_code_after_a_return_in_the_same_block_is_dropped() -> None:
    played = play(
        "python", "def f(x):\n", "\n\ndef g():\n    pass\n", "    return x\n    print(x)\n"
    )
    assert played.kept == "    return x"
    assert played.reason is StopReason.NEW_SIBLING


def test_a_second_definition_is_a_new_sibling() -> None:
    suggestion = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    played = play("python", "import os\n\n\n", "", suggestion)
    assert played.kept == "def a():\n    return 1"
    assert played.reason is StopReason.NEW_SIBLING


def test_lines_inserted_before_a_line_of_code_keep_their_line_break() -> None:
    prefix = "def f(xs):\n    total = 0\n"
    suffix = "    return total\n"
    played = play(
        "python", prefix, suffix, "    for x in xs:\n        total += x\n    return total\n"
    )
    assert played.kept == "    for x in xs:\n        total += x\n"
    assert played.reason is StopReason.SUFFIX_REPEAT


def test_a_body_the_suffix_does_not_fit_under_is_cut_at_a_clean_line() -> None:
    """`else:` in the suffix needs an `if` before it: the runaway ends where one is left open."""
    prefix = "def sign(x):\n    if x > 0:\n"
    suffix = "    else:\n        return -1\n"
    suggestion = "        return 1\n    return -1\n\n\nprint(sign(2))\n"
    played = play("python", prefix, suffix, suggestion)
    assert played.kept == "        return 1\n"


def test_crlf_documents_and_suggestions() -> None:
    prefix = NORM_PREFIX.replace("\n", "\r\n")
    suggestion = NORM_RUNAWAY.replace("\n", "\r\n")
    played = play("python", prefix, "\r\n    return r\r\n", suggestion)
    assert played.kept == "r = math.sqrt(x**2 + y**2)"
    assert played.reason is StopReason.SUFFIX_REPEAT
    inserted = play(
        "python", "def f(xs):\r\n", "    return xs\r\n", "    xs.sort()\r\n    return xs\r\n"
    )
    assert inserted.kept == "    xs.sort()\r\n"


def test_model_end_keeps_a_clean_suggestion_whole() -> None:
    played = play("python", "def f(x):\n", "", "    y = x + 1\n    return y\n")
    assert played.kept == "    y = x + 1\n    return y"
    assert played.reason is StopReason.EOS
    assert played.fed is None


def test_token_limit_drops_a_trailing_statement_that_breaks_the_parse() -> None:
    played = play("python", "def f():\n", "", "    y = 1\n    z = (", StopReason.MAX_TOKENS)
    assert played.kept == "    y = 1"
    assert played.reason is StopReason.PARSE_CLEAN


def test_a_retyped_header_stops_where_its_body_already_follows() -> None:
    prefix = "class Graph:\n    def __init__(self):\n        self.nodes = {}\n\n    d"
    suffix = '\n        """Add a node."""\n        self.nodes[node] = []\n'
    runaway = "ef add(self, node):\n        self.nodes[node] = set()\n        return node\n"
    played = play("python", prefix, suffix, runaway)
    assert played.kept == "ef add(self, node):"
    assert played.reason is StopReason.LINE_COMPLETE
    assert played.fed is not None and played.fed <= len("ef add(self, node):\n") + 8


def test_a_header_whose_body_is_missing_still_gets_one() -> None:
    prefix = "class Graph:\n    def __init__(self):\n        self.nodes = {}\n\n    d"
    suffix = "\n\n    def remove(self, node):\n        pass\n"
    played = play("python", prefix, suffix, "ef add(self, node):\n        self.n = 1\n\n    def x")
    assert played.kept.rstrip() == "ef add(self, node):\n        self.n = 1"
