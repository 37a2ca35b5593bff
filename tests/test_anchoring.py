from lsp_fim.anchoring import MAX_TYPED_LINES, plan_prompt


def words(text: str) -> int:
    return len(text.split())


DOCUMENT = "def f(x):\n    y = 1\n    \n    return y\n"
CURSOR = DOCUMENT.index("    \n    return") + 4


def type_at(text: str, offset: int, typed: str) -> tuple[str, int]:
    return text[:offset] + typed + text[offset:], offset + len(typed)


def test_first_prompt_anchors_at_the_cursor_line_start() -> None:
    plan = plan_prompt(DOCUMENT, CURSOR, None, 100, 100, words)
    assert plan.window.prefix == "def f(x):\n    y = 1\n"
    assert plan.typed == "    "
    assert plan.window.suffix == "\n    return y\n"


def test_typing_keeps_the_windows_and_grows_the_typed_text() -> None:
    first = plan_prompt(DOCUMENT, CURSOR, None, 100, 100, words)
    text, cursor = type_at(DOCUMENT, CURSOR, "z = x\n    w")
    second = plan_prompt(text, cursor, first.anchor, 100, 100, words)
    assert second.anchor == first.anchor
    assert second.window.prefix == first.window.prefix
    assert second.window.suffix == first.window.suffix
    assert second.typed == "    z = x\n    w"
    assert second.window.prefix + second.typed + second.window.suffix == text


def test_edit_above_the_anchor_re_anchors() -> None:
    first = plan_prompt(DOCUMENT, CURSOR, None, 100, 100, words)
    text = DOCUMENT.replace("y = 1", "y = 2")
    second = plan_prompt(text, CURSOR, first.anchor, 100, 100, words)
    assert second.anchor != first.anchor
    assert "y = 2" in second.window.prefix


def test_cursor_before_the_anchor_or_too_many_typed_lines_re_anchors() -> None:
    first = plan_prompt(DOCUMENT, CURSOR, None, 100, 100, words)
    moved = plan_prompt(DOCUMENT, 3, first.anchor, 100, 100, words)
    assert moved.anchor.offset == 0
    text, cursor = type_at(DOCUMENT, CURSOR, "a\n" * (MAX_TYPED_LINES + 1))
    grown = plan_prompt(text, cursor, first.anchor, 100, 100, words)
    assert grown.anchor.offset > first.anchor.offset
    assert grown.window.prefix + grown.typed + grown.window.suffix == text
