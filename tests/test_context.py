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


def test_stepped_prefix_edge_stays_put_while_lines_are_added_below_it() -> None:
    document = "".join(f"line{n} a b\n" for n in range(40))
    budget = 2 + 3 * 20  # the cursor line's head and 20 whole lines
    offset = cursor_after(document, "line30 a")
    window = build_window(document, offset, budget, 0, words, edge_step=(8, 1))
    assert window.prefix.startswith("line16 ")  # 20 lines would start at line10; 16 is on step
    assert window.prefix_tokens == 2 + 3 * 14
    typed = document[:offset] + "\nnew line" + document[offset:]
    moved = build_window(typed, offset + len("\nnew line"), budget, 0, words, edge_step=(8, 1))
    assert moved.prefix.startswith("line16 ")


def test_stepped_suffix_edge_counts_from_the_end_of_the_document() -> None:
    document = "".join(f"line{n} a b\n" for n in range(40))
    offset = cursor_after(document, "line5 a")
    window = build_window(document, offset, 0, 1 + 3 * 10, words, edge_step=(1, 8))
    # 10 whole lines would end after line15, leaving 24 lines out: a multiple of 8 already.
    assert window.suffix.endswith("line15 a b\n")
    shorter = build_window(document, offset, 0, 1 + 3 * 12, words, edge_step=(1, 8))
    assert shorter.suffix.endswith("line15 a b\n")
    assert shorter.suffix_tokens == 1 + 3 * 10


def test_a_step_never_cuts_below_what_the_document_has() -> None:
    window = build_window(DOCUMENT, cursor_after(DOCUMENT, "line5 a"), 1000, 1000, words, (16, 16))
    assert window.prefix + window.suffix == DOCUMENT


def test_a_line_longer_than_any_budget_is_cut_around_the_cursor() -> None:
    """A 2-million-character line costs a window of its budget, not the whole line."""
    line = "x = [" + "1, " * 700_000
    text = "import os\n" + line + "\nprint(x)\n"
    offset = text.index(line) + len(line) // 2
    window = build_window(text, offset, 100, 50, words)
    assert text[offset - len(window.prefix) : offset + len(window.suffix)] == (
        window.prefix + window.suffix
    )
    assert 0 < len(window.prefix) <= 800 and 0 < len(window.suffix) <= 512


def test_a_line_too_long_for_any_budget_is_never_counted() -> None:
    counted: list[int] = []

    def count(text: str) -> int:
        counted.append(len(text))
        return words(text)

    text = "a b\n" + "y" * 1_000_000 + "\nc d|e\n"
    window = build_window(text, text.index("|"), 1000, 10, count)
    assert window.prefix == "c d"
    assert max(counted) < 10_000


def test_a_cut_line_of_dense_code_fits_its_token_budget() -> None:
    """Minified code has more tokens than the character bound allows for: at 2 characters a
    token a 2-million-character line made a 10,242-token prompt, over the context."""
    line = "x=[" + "1," * 1_000_000
    offset = len(line) // 2

    def dense(text: str) -> int:
        return len(text) // 2

    window = build_window(line, offset, 100, 50, dense)
    assert (window.prefix_tokens, window.suffix_tokens) == (100, 50)
    assert line[offset - len(window.prefix) : offset + len(window.suffix)] == (
        window.prefix + window.suffix
    )
    assert window.prefix_tokens == dense(window.prefix)


def test_a_cut_line_gives_the_prompt_a_bounded_window() -> None:
    """Every token of a cold prompt costs milliseconds; far from the cursor, a minified line
    helps little."""
    line = "x=[" + "1," * 1_000_000
    window = build_window(line, len(line) // 2, 1024, 1024, lambda text: len(text) // 2)
    assert (window.prefix_tokens, window.suffix_tokens) == (256, 256)
