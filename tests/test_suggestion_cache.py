from lsp_fim.suggestion_cache import SuggestionCache


def test_typing_through_the_suggestion_returns_the_rest() -> None:
    cache = SuggestionCache()
    cache.remember("a.py", "x = ", "\n", "math.sqrt(2)", "eos")
    hit = cache.lookup("a.py", "x = math.", "\n")
    assert hit is not None
    assert hit.text == "sqrt(2)"
    assert hit.stop_reason == "eos"


def test_same_context_repeats_the_suggestion() -> None:
    cache = SuggestionCache()
    cache.remember("a.py", "x = ", "\n", "1", "eos")
    hit = cache.lookup("a.py", "x = ", "\n")
    assert hit is not None and hit.text == "1"


def test_diverging_typing_or_changed_suffix_misses() -> None:
    cache = SuggestionCache()
    cache.remember("a.py", "x = ", "\n", "math.sqrt(2)", "eos")
    assert cache.lookup("a.py", "x = mb", "\n") is None
    assert cache.lookup("a.py", "x = m", "\ny = 1\n") is None
    assert cache.lookup("b.py", "x = m", "\n") is None
    assert cache.lookup("a.py", "x = math.sqrt(2)", "\n") is None


def test_capacity_evicts_the_least_recently_used_context() -> None:
    cache = SuggestionCache(capacity=2)
    cache.remember("a.py", "", "", "a", "eos")
    cache.remember("b.py", "", "", "b", "eos")
    assert cache.lookup("a.py", "", "") is not None  # a.py is now the most recent
    cache.remember("c.py", "", "", "c", "eos")
    assert cache.lookup("b.py", "", "") is None
    assert cache.lookup("a.py", "", "") is not None


def test_several_contexts_of_one_document_are_kept() -> None:
    """The shown suggestion and the one precomputed for after its acceptance live side by side."""
    cache = SuggestionCache()
    cache.remember("a.py", "x = ", "\n", "f(1)", "eos")
    cache.remember("a.py", "x = f(1)", "\n", "\ny = 2", "eos")
    typing = cache.lookup("a.py", "x = f", "\n")
    accepted = cache.lookup("a.py", "x = f(1)", "\n")
    assert typing is not None and typing.text == "(1)"
    assert accepted is not None and accepted.text == "\ny = 2"


def test_an_empty_answer_is_repeated_for_its_own_context_only() -> None:
    cache = SuggestionCache()
    cache.remember("a.py", "x = 1", "\n", "", "scope_closed")
    same = cache.lookup("a.py", "x = 1", "\n")
    assert same is not None and same.text == ""
    assert cache.lookup("a.py", "x = 12", "\n") is None


def test_typing_the_whole_suggestion_asks_the_model_again() -> None:
    cache = SuggestionCache()
    cache.remember("a.py", "x = ", "\n", "1", "eos")
    assert cache.lookup("a.py", "x = 1", "\n") is None
