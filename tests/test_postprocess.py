import pytest

from lsp_fim.backends.stop_text import StopTextFilter
from lsp_fim.postprocess import finish_suggestion


@pytest.mark.parametrize(
    ("suggestion", "suffix", "expected"),
    # the cursor follows code on its line, as in "x = |"
    [
        ("a, b)", ")\n", "a, b"),
        ("x + 1)]", ")]\nrest", "x + 1"),
        ("r = sqrt(x)\n", "\n    return r\n", "r = sqrt(x)"),
        ("foo(", ") + 1", "foo("),
        ("  \n\t", "\n", ""),
        ("value", "value\n", ""),
        ("y = 2 ", "x", "y = 2 "),
    ],
)
def test_finish_suggestion(suggestion: str, suffix: str, expected: str) -> None:
    assert finish_suggestion(suggestion, "x = ", suffix) == expected


@pytest.mark.parametrize(
    ("suggestion", "head", "expected"),
    [
        ("    y = f(x)", "", "    y = f(x)\n"),
        ("    y = f(x)\n\n", "", "    y = f(x)\n"),
        ("y = f(x)\n", "    ", "y = f(x)\n    "),
        ("y = 1\n    z = 2", "    ", "y = 1\n    z = 2\n    "),
    ],
)
def test_lines_inserted_before_existing_code_end_with_a_line_break(
    suggestion: str, head: str, expected: str
) -> None:
    prefix = "def f(x):\n" + head
    assert finish_suggestion(suggestion, prefix, "    return y\n"[len(head) :]) == expected


def test_stop_text_split_across_pieces_is_never_emitted() -> None:
    stop = StopTextFilter(("<|endoftext|>",))
    emitted = stop.push("return x<|end") + stop.push("oftext|>more")
    assert emitted == "return x"
    assert stop.stopped


def test_partial_stop_prefix_that_does_not_complete_is_released() -> None:
    stop = StopTextFilter(("<EOT>",))
    assert stop.push("a <") == "a "
    assert stop.push("b") == "<b"
    assert not stop.stopped
    assert stop.flush() == ""
