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


def test_the_request_and_the_work_ahead_may_use_it_at_once() -> None:
    """Two threads (the editor's request, the work ahead): an unguarded OrderedDict raises
    "mutated during iteration" under this load within a few hundred rounds."""
    import threading

    cache = SuggestionCache(capacity=8)
    errors: list[BaseException] = []
    stop = threading.Event()

    def remember() -> None:
        for round_ in range(20_000):
            cache.remember(f"k{round_ % 3}", f"x{round_}", "\n", "y", "eos")
        stop.set()

    def look_up() -> None:
        try:
            while not stop.is_set():
                cache.lookup("k0", "nothing", "\n")
        except RuntimeError as error:  # pragma: no cover - the fault this test catches
            errors.append(error)

    threads = [threading.Thread(target=remember), threading.Thread(target=look_up)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(cache) == 8


def test_forget_drops_a_closed_documents_entries_only() -> None:
    cache = SuggestionCache()
    cache.remember("scope:/p/a.py:1", "x = ", "\n", "1", "eos")
    cache.remember("scope:/p/b.py:1", "x = ", "\n", "2", "eos")
    cache.forget(":/p/a.py:")
    assert cache.lookup("scope:/p/a.py:1", "x = ", "\n") is None
    assert cache.lookup("scope:/p/b.py:1", "x = ", "\n") is not None
