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


def test_capacity_evicts_the_oldest_document() -> None:
    cache = SuggestionCache(capacity=1)
    cache.remember("a.py", "", "", "a", "eos")
    cache.remember("b.py", "", "", "b", "eos")
    assert cache.lookup("a.py", "", "") is None
    assert cache.lookup("b.py", "", "") is not None
