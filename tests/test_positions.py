import pytest

from lsp_fim.positions import Position, PositionError, offset_of, position_of

EMOJI_LINE = 'x = "😋" + y\n'


@pytest.mark.parametrize(
    ("encoding", "character"),
    [("utf-16", 8), ("utf-8", 10), ("utf-32", 7)],
)
def test_closing_quote_after_emoji_in_each_encoding(encoding: str, character: int) -> None:
    offset = offset_of(EMOJI_LINE, Position(0, character), encoding)  # type: ignore[arg-type]
    assert EMOJI_LINE[offset] == " "
    assert EMOJI_LINE[offset - 1] == '"'
    assert position_of(EMOJI_LINE, offset, encoding) == Position(0, character)  # type: ignore[arg-type]


def test_position_inside_a_surrogate_pair_is_rejected() -> None:
    with pytest.raises(PositionError, match="splits"):
        offset_of(EMOJI_LINE, Position(0, 6), "utf-16")


def test_crlf_line_end_is_not_part_of_the_line() -> None:
    text = "ab\r\ncd\r\n"
    assert offset_of(text, Position(0, 2)) == 2
    assert offset_of(text, Position(1, 1)) == 5
    with pytest.raises(PositionError, match="past the end"):
        offset_of(text, Position(0, 3))
    assert position_of(text, 5) == Position(1, 1)


def test_tabs_count_as_one_unit() -> None:
    text = "\t\tx = 1\n"
    assert text[offset_of(text, Position(0, 2))] == "x"


@pytest.mark.parametrize("position", [Position(5, 0), Position(-1, 0), Position(0, -1)])
def test_positions_outside_the_document_are_errors(position: Position) -> None:
    with pytest.raises(PositionError):
        offset_of("one line\n", position)


def test_last_empty_line_is_addressable() -> None:
    text = "a\n"
    assert offset_of(text, Position(1, 0)) == 2


def test_lines_end_at_lsp_line_breaks_only() -> None:
    """LSP ends lines at \\n, \\r\\n and a lone \\r; \\f, \\v and U+2028 are text."""
    text = "a\rb\r\nc\f\v\u2028d\ne"
    assert offset_of(text, Position(1, 1)) == 3
    assert offset_of(text, Position(2, 4)) == 9
    assert offset_of(text, Position(3, 1)) == 12
    assert position_of(text, 9) == Position(2, 4)
    with pytest.raises(PositionError, match="past the end"):
        offset_of(text, Position(0, 2))


def test_a_position_on_a_long_line_in_utf8() -> None:
    line = "é" * 1000 + "😋x"
    assert offset_of(line, Position(0, 2004), "utf-8") == 1001
    with pytest.raises(PositionError, match="splits"):
        offset_of(line, Position(0, 2001), "utf-8")
