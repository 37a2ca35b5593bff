from lsp_fim.context import build_window


def words(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word."""
    return len(text.split())


DOCUMENT = "".join(f"line{n} a b\n" for n in range(10))


def cursor_after(text: str, marker: str) -> int:
    return text.index(marker) + len(marker)


def test_windows_end_and_start_at_the_cursor() -> None:
    offset = cursor_after(DOCUMENT, "line5 a")
    window = build_window(DOCUMENT, offset, 1000, 1000, words)
    assert window.prefix + window.suffix == DOCUMENT
    assert window.prefix.endswith("line5 a")
    assert window.suffix.startswith(" b\nline6")


def test_budget_cuts_at_line_boundaries() -> None:
    offset = cursor_after(DOCUMENT, "line5 a")
    window = build_window(DOCUMENT, offset, 2 + 3 * 2, 1 + 3 * 1, words)
    assert window.prefix == "line3 a b\nline4 a b\nline5 a"
    assert window.suffix == " b\nline6 a b\n"
    assert window.prefix_tokens == 8
    assert window.suffix_tokens == 4


def test_cursor_line_is_kept_whole_even_over_budget() -> None:
    offset = cursor_after(DOCUMENT, "line5 a")
    window = build_window(DOCUMENT, offset, 0, 0, words)
    assert window.prefix == "line5 a"
    assert window.suffix == " b\n"


def test_zero_suffix_budget_at_end_of_file() -> None:
    window = build_window("abc", 3, 10, 0, words)
    assert (window.prefix, window.suffix) == ("abc", "")


def test_crlf_lines_stay_whole() -> None:
    text = "a\r\nb\r\nc|d\r\ne\r\n"
    offset = text.index("|")
    window = build_window(text, offset, 2, 2, lambda s: 1 if s else 0)
    assert window.prefix == "b\r\nc"
    assert window.suffix == "|d\r\ne\r\n"
