import pytest

from lsp_fim.backends.stop_text import StopTextFilter
from lsp_fim.postprocess import finish_suggestion


@pytest.mark.parametrize(
    ("suggestion", "suffix", "expected"),
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
    assert finish_suggestion(suggestion, suffix) == expected


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
