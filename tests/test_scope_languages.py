"""The scope stop beyond Python: brace, keyword and unknown languages, and prose."""

from __future__ import annotations

import pytest
from test_scope_streams import play

from lsp_fim.scope import StopReason

# (language, text before the cursor, text after it, what the model writes, what is kept)
CLOSING_THE_FUNCTION = [
    (
        "javascript",
        "function add(a, b) {\n  ",
        "\n}\n\nfunction sub(a, b) {\n  return a - b;\n}\n",
        "return a + b;\n}\n\nfunction mul(a, b) {\n  return a * b;\n}\n",
        "return a + b;",
    ),
    (
        "typescript",
        "function add(a: number, b: number): number {\n  ",
        "\n}\n",
        "return a + b;\n}\n\nfunction mul(a: number): number {\n",
        "return a + b;",
    ),
    (
        "go",
        "package main\n\nfunc add(a int, b int) int {\n\t",
        "\n}\n",
        "return a + b\n}\n\nfunc mul(a int) int {\n",
        "return a + b",
    ),
    (
        "rust",
        "fn first<'a>(x: &'a str) -> &'a str {\n    ",
        "\n}\n",
        "let c = '}';\n    x\n}\n\nfn second() {\n",
        "let c = '}';\n    x",
    ),
    (
        "c",
        "int add(int a, int b) {\n    ",
        "\n}\n",
        '/* } */ puts("}");\n    return a + b;\n}\n\nint mul(int a) {\n',
        '/* } */ puts("}");\n    return a + b;',
    ),
    (
        "cpp",
        "int add(int a, int b) {\n    ",
        "\n}\n",
        "return a + b; // }\n}\n\nint mul(int a) {\n",
        "return a + b; // }",
    ),
    (
        "java",
        "class A {\n    int add(int a, int b) {\n        ",
        "\n    }\n}\n",
        "return a + b;\n    }\n\n    int mul(int a) {\n",
        "return a + b;",
    ),
    (
        "bash",
        "greet() {\n  ",
        "\n}\n",
        'echo "hi } $1" # }\n}\n\nmain() {\n',
        'echo "hi } $1" # }',
    ),
    (
        "lua",
        "function f(x)\n  ",
        "\nend\n",
        "return x + 1\nend\n\nfunction g()\n",
        "return x + 1",
    ),
]


@pytest.mark.parametrize(
    ("language", "prefix", "suffix", "suggestion", "kept"),
    CLOSING_THE_FUNCTION,
    ids=[case[0] for case in CLOSING_THE_FUNCTION],
)
def test_closing_the_function_the_suffix_closes_stops_before_it(
    language: str, prefix: str, suffix: str, suggestion: str, kept: str
) -> None:
    played = play(language, prefix, suffix, suggestion)
    assert played.kept.rstrip() == kept
    assert played.reason is StopReason.SCOPE_CLOSED
    assert played.fed is not None and played.fed < len(suggestion) - 4


def test_a_brace_the_suffix_lacks_is_kept_and_ends_the_suggestion() -> None:
    played = play(
        "javascript", "function add(a, b) {", "", "\n  return a + b;\n}\n\nfunction f() {"
    )
    assert played.kept == "\n  return a + b;\n}"
    assert played.reason is StopReason.SCOPE_CLOSED


@pytest.mark.parametrize("language", ["java", "javascript", "c"])
def test_the_hole_closes_its_own_block_when_the_suffix_closes_only_the_outer_ones(
    language: str,
) -> None:
    prefix = "void f(int n) {\n    for (i = 0; i < n; i++) {\n        a = 1;\n"
    suffix = "    return;\n}\n"
    played = play(language, prefix, suffix, "    }\n    return;\n}\n\nvoid g() {")
    assert played.kept == "    }\n"
    assert played.reason in {StopReason.SCOPE_CLOSED, StopReason.SUFFIX_REPEAT}


def test_a_closing_brace_that_reopens_a_sibling_block_is_kept() -> None:
    prefix = "int f(int a) {\n    if (a > 0) {\n        return 1;\n"
    suffix = "        return 2;\n    }\n}\n"
    played = play("java", prefix, suffix, "    } else {\n        return 2;\n    }\n}\n")
    assert played.kept == "    } else {\n"
    assert played.reason is StopReason.SUFFIX_REPEAT


def test_block_opener_in_a_brace_language_writes_the_body() -> None:
    played = play(
        "javascript", "function f(x) {\n  if (x) {", "\n  }\n}\n", "\n    go();\n  }\n  more();\n"
    )
    assert played.kept.rstrip() == "\n    go();"
    assert played.reason is StopReason.SCOPE_CLOSED


def test_else_branch_goes_on_when_the_suffix_has_no_closing_brace() -> None:
    suggestion = "\n    a();\n  } else {\n    b();\n  }\n  c();\n"
    played = play("javascript", "function f(x) {\n  if (x) {", "", suggestion)
    assert played.kept == "\n    a();\n  } else {\n    b();\n  }"


def test_a_word_that_ends_blocks_is_kept_when_the_suffix_lacks_it() -> None:
    played = play("lua", "function f(x)\n  ", "", "return x + 1\nend\n\nfunction g()\n")
    assert played.kept == "return x + 1\nend"
    assert played.reason is StopReason.SCOPE_CLOSED


def test_jsx_braces_in_strings_do_not_close_the_function() -> None:
    played = play(
        "tsx", "function App() {\n  return ", "\n}\n", '<div>{"}"}</div>;\n}\n\nfunction B() {\n'
    )
    assert played.kept == '<div>{"}"}</div>;'
    assert played.reason is StopReason.LINE_COMPLETE


def test_go_call_argument_hole_stops_at_the_closing_parenthesis() -> None:
    played = play("go", "func main() {\n\tfmt.Println(strings.ToUpper(", "))\n}\n", 's), "!")\n}\n')
    assert played.kept == "s"
    assert played.reason is StopReason.LINE_COMPLETE


@pytest.mark.parametrize("language", [None, "zig"])
def test_unknown_languages_get_indentation_and_brackets(language: str | None) -> None:
    played = play(language, "fn main() {\n    ", "\n}\n", "foo();\n}\n\nfn other() {\n")
    assert played.kept.rstrip() == "foo();"
    assert played.reason is StopReason.SCOPE_CLOSED


def test_the_fallback_dedent_ends_an_indented_block() -> None:
    played = play(
        "nim", "proc f(x: int): int =\n  ", "", "result = x + 1\n\nproc g() =\n  discard\n"
    )
    assert played.kept.rstrip() == "result = x + 1"
    assert played.reason is StopReason.SCOPE_CLOSED


def test_prose_gets_no_guard() -> None:
    suggestion = "Sir,\n\nthe braces } and ) mean nothing here.\n"
    played = play("plaintext", "Dear ", "", suggestion)
    assert played.kept == suggestion
    assert played.reason is StopReason.EOS
    assert played.fed is None


def test_crlf_in_a_brace_language() -> None:
    played = play(
        "c",
        "int add(int a, int b) {\r\n    ",
        "\r\n}\r\n",
        "return a + b;\r\n}\r\n\r\nint mul(int a) {\r\n",
    )
    assert played.kept == "return a + b;"


def test_a_brace_in_a_regular_expression_is_left_to_the_grammar() -> None:
    played = play("javascript", "function f(s) {\n  ", "\n}\n", 'return s.replace(/}/g, "");\n}\n')
    assert played.kept.rstrip() == 'return s.replace(/}/g, "");'
    assert played.reason is StopReason.SCOPE_CLOSED


def test_a_retyped_brace_header_stops_where_its_body_already_follows() -> None:
    prefix = "function f(node) {\n\tw"
    suffix = "\n\t\tnode = node.parent;\n\t}\n\treturn node;\n}\n"
    runaway = "hile (node) {\n\t\tif (node.leaf) {\n\t\t\tbreak;\n"
    played = play("typescript", prefix, suffix, runaway)
    assert played.kept == "hile (node) {"
    assert played.reason is StopReason.LINE_COMPLETE
