"""Brace languages: blocks the hole must close or open itself, whatever their indentation.

Small models often indent a closing brace like the block around the one it closes; the brace
still closes the innermost block open at the cursor, and that is what the guard reads.
"""

from __future__ import annotations

from test_scope_streams import play

from lsp_fim.scope import StopReason

ELSE_LEFT_OPEN = (
    "class A {\n"
    "    long f(long n, long x, long y) {\n"
    "        if (n > 0) {\n"
    "            return x;\n"
    "        } else {\n"
    "            return y;\n"
)


def test_a_brace_indented_like_the_suffix_line_still_closes_the_open_block() -> None:
    """The suffix closes the method and the class; the ``else`` is the hole's to close. A
    ``}`` indented like the method's reads like the suffix's next line but closes the else."""
    suffix = "    }\n}\n"
    suggestion = "    }\n    public static void main(String[] args) {\n        f(1);\n    }\n}\n"
    played = play("java", ELSE_LEFT_OPEN, suffix, suggestion)
    assert played.kept == "    }\n"
    assert played.reason is StopReason.SCOPE_CLOSED


def test_a_flush_left_brace_closes_the_else_before_the_function_brace() -> None:
    prefix = "function f(n) {\n  if (n > 0) {\n    return n;\n  } else {\n    return 1;\n"
    suggestion = "}\n\n// Test\nconsole.log(f(4));\n"
    played = play("javascript", prefix, "}\n", suggestion)
    assert played.kept == "}\n"
    assert played.reason is StopReason.SCOPE_CLOSED


def test_a_line_that_repeats_the_suffix_and_closes_nothing_still_ends_it() -> None:
    prefix = "function f(n) {\n    if (n > 0) {\n        return n;\n    }\n"
    played = play("javascript", prefix, "    return 1;\n}\n", "    return 1;\n}\n")
    assert played.kept == ""
    assert played.reason is StopReason.SUFFIX_REPEAT
