"""Alternatives for explicit requests: where they branch, which are distinct, and what the
engine asks the model for (a scripted backend that scores its pieces)."""

from __future__ import annotations

import math

from scripted import PlainTemplate, Scored, ScoredBackend

from lsp_fim.alternatives import branch_starts, is_distinct
from lsp_fim.backends.base import TokenChoice
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine, CompletionRequest

TEXT = "def area(width, height):\n    return "
REQUEST = CompletionRequest(TEXT, len(TEXT), "python", "/tmp/area.py")
# The model wrote "width * height", least sure at "width" (runners-up "height", "0").
GREEDY: list[Scored] = [
    ("width", math.log(0.4), (("height", math.log(0.35)), ("0", math.log(0.1)))),
    (" *", math.log(0.95), ((" +", math.log(0.01)),)),
    (" height", math.log(0.99), ()),
]
SCRIPTS: dict[str, list[Scored]] = {
    "": GREEDY,
    "height": [(" * width", math.log(0.9), ())],
    "width +": [(" height", math.log(0.9), ())],
    "0": [("", 0.0, ())],
}


def engine(scripts: dict[str, list[Scored]] = SCRIPTS) -> tuple[CompletionEngine, ScoredBackend]:
    backend = ScoredBackend(scripts)
    return CompletionEngine(backend, PlainTemplate(), Settings()), backend


def test_branches_start_with_the_likeliest_runner_up_after_the_text_before_it() -> None:
    choices = [
        TokenChoice(5, -0.9, (("height", -1.0), ("0", -2.3))),
        TokenChoice(7, -0.05, ((" +", -4.6),)),
    ]
    assert branch_starts("width *", choices) == ["height", "0", "width +"]


def test_the_same_start_is_offered_once() -> None:
    choices = [TokenChoice(1, -0.5, (("b", -1.0),)), TokenChoice(2, -0.5, (("b", -1.5),))]
    assert branch_starts("ab", choices) == ["b", "ab"]


def test_suggestions_differing_only_in_blank_space_are_not_distinct() -> None:
    assert not is_distinct("width  *\theight", ["width * height"])
    assert not is_distinct("  ", [])
    assert is_distinct("height * width", ["width * height"])


def test_an_explicit_request_gets_up_to_three_distinct_suggestions_greedy_first() -> None:
    explicit, backend = engine()
    texts = [completion.text for completion in explicit.complete_alternatives(REQUEST)]
    assert texts == ["width * height", "height * width", "0"]
    # Each alternative is the same prompt with its start after the middle marker.
    starts = [prompt.split("<mid>")[-1] for prompt in backend.prompts]
    assert starts == ["", "height", "0"]
    assert len({prompt.split("<mid>")[0] for prompt in backend.prompts}) == 1


def test_an_alternative_equal_to_one_found_is_skipped_for_the_next() -> None:
    greedy = [("width", math.log(0.4), (("width ", math.log(0.35)),)), *GREEDY[1:]]
    explicit, _ = engine({**SCRIPTS, "": greedy, "width ": [("* height", 0.0, ())]})
    texts = [completion.text for completion in explicit.complete_alternatives(REQUEST)]
    assert texts == ["width * height", "width + height"]


def test_fewer_when_the_model_has_no_other_distinct_suggestion() -> None:
    explicit, _ = engine({"": GREEDY[2:]})
    assert [c.text for c in explicit.complete_alternatives(REQUEST)] == [" height"]


def test_count_limits_the_suggestions() -> None:
    explicit, backend = engine()
    assert len(explicit.complete_alternatives(REQUEST, count=2)) == 2
    assert len(backend.prompts) == 2


def test_alternatives_never_answer_a_later_request_from_the_cache() -> None:
    explicit, _ = engine()
    explicit.complete_alternatives(REQUEST)
    later = explicit.complete(REQUEST)
    assert later is not None and later.from_cache and later.text == "width * height"


def test_an_automatic_request_gets_one_suggestion() -> None:
    automatic, backend = engine()
    completion = automatic.complete(REQUEST)
    assert completion is not None and completion.text == "width * height"
    assert len(backend.prompts) == 1


def test_the_search_for_alternatives_gives_up_after_a_few_model_runs() -> None:
    same = [("width", math.log(0.4), tuple((f"width{' ' * n}", -1.0 - n) for n in range(1, 9)))]
    scripts = {"": same, **{f"width{' ' * n}": [("", 0.0, ())] for n in range(1, 9)}}
    explicit, backend = engine(scripts)
    assert [c.text for c in explicit.complete_alternatives(REQUEST)] == ["width"]
    assert len(backend.prompts) == 1 + 2 * 2, "two tries for each of the two alternatives"


def test_an_explicit_request_after_an_automatic_one_runs_the_model_for_the_others_only() -> None:
    explicit, backend = engine()
    automatic = explicit.complete(REQUEST)
    assert automatic is not None and len(backend.prompts) == 1
    found = explicit.complete_alternatives(REQUEST)
    assert [c.text for c in found] == ["width * height", "height * width", "0"]
    assert found[0].from_cache and found[0].choices == automatic.choices
    starts = [prompt.split("<mid>")[-1] for prompt in backend.prompts]
    assert starts == ["", "height", "0"], "the first suggestion was not computed again"


def test_an_automatic_answer_withheld_for_low_confidence_is_shown_when_asked() -> None:
    backend = ScoredBackend(SCRIPTS)
    unsure = CompletionEngine(backend, PlainTemplate(), Settings(min_confidence=0.5))
    automatic = unsure.complete(REQUEST)
    assert automatic is not None and automatic.text == ""
    found = unsure.complete_alternatives(REQUEST)
    assert found[0].text == "width * height" and found[0].confidence == automatic.confidence
    assert len(backend.prompts) == 3


def test_after_typing_an_explicit_request_asks_the_model_again() -> None:
    explicit, backend = engine()
    explicit.complete(REQUEST)
    typed = CompletionRequest(TEXT + "wi", len(TEXT) + 2, "python", "/tmp/area.py")
    explicit.complete_alternatives(typed)
    assert len(backend.prompts) >= 2 and backend.prompts[1].split("<mid>")[-1] == ""
