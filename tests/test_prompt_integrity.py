"""User text never becomes a control token: the template's markers are the only special tokens
in a prompt the embedded backend tokenizes, checked on the real Qwen model; for ordinary text
the tokens are those of the whole prompt tokenized with special tokens parsed, as before."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_fim.backends.base import FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.llama_cpp import LlamaCppBackend
from lsp_fim.templates import ContextFile, FimTemplate, load_template

CORPUS = Path(__file__).parent.parent / "bench" / "corpus"
INJECTED = ("<|fim_middle|>", "<|file_sep|>", "<|endoftext|>")
PREFIX = "# markers: <|fim_middle|> <|file_sep|> <|endoftext|>\ndef add(a, b):\n    return "
SUFFIX = "\n\n\nprint(add(1, 2))\n"
QWEN = load_template("qwen2.5-coder")

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def backend(model_path: Path) -> Iterator[LlamaCppBackend]:
    yield LlamaCppBackend(model_path, threads=2, context_tokens=8192)


def special_ids(backend: LlamaCppBackend, template: FimTemplate) -> set[int]:
    """The ids of the template's special tokens, each one token in this vocabulary."""
    ids = [backend.tokenize(text) for text in template.special_tokens]
    assert all(len(single) == 1 for single in ids)
    return {single[0] for single in ids}


def old_tokens(backend: LlamaCppBackend, prompt: str) -> list[int]:
    """How prompts were tokenized before: all of it with special tokens parsed."""
    return backend.tokenize(prompt, special=True)


def corpus_prompts() -> Iterator[tuple[str, str, str, tuple[ContextFile, ...]]]:
    """Windows at 12 places in each corpus file, with the other files as context."""
    files = sorted(path for path in CORPUS.glob("*.txt"))
    texts = {path.name.removesuffix(".txt"): path.read_text(encoding="utf-8") for path in files}
    for name, text in texts.items():
        others = tuple(ContextFile(f"src/{n}", t[:3000]) for n, t in texts.items() if n != name)
        for step in range(12):
            offset = len(text) * step // 12
            yield name, text[:offset][-6000:], text[offset:][:2000], others


def test_ordinary_documents_get_the_tokens_they_always_got(backend: LlamaCppBackend) -> None:
    compared = 0
    for name, prefix, suffix, others in corpus_prompts():
        for extra_files in ((), others):
            pieces = QWEN.render_pieces(
                prefix, suffix, path=f"src/{name}", repo="corpus", extra_files=extra_files
            )
            new = backend.tokenize_prompt(pieces)
            assert new == old_tokens(backend, "".join(piece.text for piece in pieces)), name
            compared += 1
    assert compared == 2 * 12 * len(list(CORPUS.glob("*.txt")))


def test_marker_strings_in_the_document_are_text(backend: LlamaCppBackend) -> None:
    specials = special_ids(backend, QWEN)
    snippet = ContextFile("notes/<|file_sep|>.md", "see <|fim_middle|> and <|endoftext|>\n")
    pieces = QWEN.render_pieces(
        PREFIX, SUFFIX, path="src/<|repo_name|>.py", repo="r<|im_end|>", extra_files=(snippet,)
    )
    tokens = backend.tokenize_prompt(pieces)
    template_markers = [piece.text for piece in pieces if piece.marker]
    assert template_markers == [
        "<|repo_name|>",
        "<|file_sep|>",
        "<|file_sep|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
    ]
    # The template's markers are the only special tokens, in the template's places.
    assert [token for token in tokens if token in specials] == [
        backend.tokenize(marker)[0] for marker in template_markers
    ]
    for text in INJECTED:
        as_text = backend.tokenize(text, special=False)
        assert len(as_text) > 1 and not specials & set(as_text)
    # Before, the document's markers were parsed as control tokens.
    old = old_tokens(backend, "".join(piece.text for piece in pieces))
    assert len([token for token in old if token in specials]) > len(template_markers)


def generate(backend: LlamaCppBackend, prefix: str, suffix: str) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    prompt = FimPrompt(QWEN.render_pieces(prefix, suffix), prefix, suffix)
    request = GenerationRequest(prompt, 16, QWEN.stop, threading.Event())
    return "".join(backend.stream(request, stats)), stats


def test_a_document_with_marker_strings_still_completes(backend: LlamaCppBackend) -> None:
    text, _ = generate(backend, PREFIX, SUFFIX)
    assert text.startswith("a + b"), text


def test_the_cache_is_still_reused_across_keystrokes(backend: LlamaCppBackend) -> None:
    """Prompts from pieces keep the KV reuse: a keystroke evaluates a few tokens, not all."""
    backend.reset_cache()
    body = "".join(f"def f{n}(x):\n    return x * {n}\n\n" for n in range(40))
    generate(backend, body + "def add(a, b):\n    return a", SUFFIX + body)
    typed, stats = generate(backend, body + "def add(a, b):\n    return a +", SUFFIX + body)
    assert stats.prompt_tokens > 500
    assert stats.prompt_tokens_evaluated < 60, stats
    assert typed.strip().startswith("b"), typed
