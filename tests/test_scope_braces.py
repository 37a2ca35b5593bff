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


LOOP_HEADER_MISSING = (
    "class A {\n    long count(String[] words) {\n        long n = 0;\n",
    "            if (w.isEmpty()) {\n"
    "                n++;\n"
    "            }\n"
    "        }\n"
    "        return n;\n"
    "    }\n"
    "}\n",
)


def test_a_block_header_whose_body_the_suffix_holds_ends_the_suggestion() -> None:
    """The suffix is the body of a loop the hole must open (one ``}`` too many). The model
    writes the header, then a body of its own and the method's end; only the header fits."""
    prefix, suffix = LOOP_HEADER_MISSING
    suggestion = (
        "        for (String w : words) {\n"
        "            n += w.length();\n"
        "        }\n"
        "        return n;\n"
        "    }\n"
    )
    played = play("java", prefix, suffix, suggestion)
    assert played.kept == "        for (String w : words) {\n"
    assert played.reason is StopReason.PARSE_CLEAN
    assert played.fed is not None


def test_a_suffix_repeat_inside_another_structure_gives_way_to_the_header() -> None:
    """The model's ``if`` body differs from the suffix's, and its ``else`` branch then runs
    into the suffix's own ``else``: the code fits only right after the header."""
    prefix = "function f(a) {\n  for (let k = 0; k < a.length; k++) {\n"
    suffix = "      out.push(1);\n    }\n    else {\n      out.push(0);\n    }\n  }\n}\n"
    suggestion = (
        "    if (a[k] === 0) {\n      out.push(0);\n    }\n    else {\n      out.push(1);\n    }\n"
    )
    played = play("javascript", prefix, suffix, suggestion)
    assert played.kept == "    if (a[k] === 0) {\n"
    assert played.reason is StopReason.PARSE_CLEAN


def test_a_suggestion_that_arrives_at_the_suffix_is_not_cut_at_the_first_fit() -> None:
    """The code already fits after ``dic = {``, but the model's next entry leads into the
    suffix's entries: the whole of it is kept."""
    prefix = "def f(arr):\n"
    suffix = '        2: "Two",\n        3: "Three",\n    }\n    return dic\n'
    suggestion = '    dic = {\n        1: "One",\n        2: "Two",\n        3: "Three",\n'
    played = play("python", prefix, suffix, suggestion)
    assert played.kept == '    dic = {\n        1: "One",\n'
    assert played.reason is StopReason.SUFFIX_REPEAT


def test_a_reopened_block_that_runs_past_the_suffix_gives_way_to_a_clean_line_end() -> None:
    """``} else if (…) {`` reopens a sibling block, but then the model writes its own end of
    the ``try`` and of the method: the brace cut would break the code, the first line does
    not."""
    prefix = (
        "class A {\n"
        "    boolean f(int m, int d) {\n"
        "        try {\n"
        "            if (m == 2) {\n"
        "                if (d > 29) return false;\n"
        "            } else if (m == 1) {\n"
    )
    suffix = (
        "            } else {\n"
        "                if (d > 30) return false;\n"
        "            }\n"
        "        } catch (Exception e) {\n"
        "            return false;\n"
        "        }\n"
        "        return true;\n"
        "    }\n"
        "}\n"
    )
    suggestion = (
        "                if (d > 31) return false;\n"
        "            } else if (m == 4) {\n"
        "                if (d > 30) return false;\n"
        "            }\n"
        "        } catch (Exception e) {\n"
        "            return false;\n"
        "        }\n"
        "        return true;\n"
        "    }\n"
    )
    played = play("java", prefix, suffix, suggestion)
    assert played.kept == "                if (d > 31) return false;\n"
    assert played.reason is StopReason.PARSE_CLEAN
