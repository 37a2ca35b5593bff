"""User text never becomes a control token: the template's markers are the only special tokens
in a prompt the embedded backend tokenizes, or that llama-server's ``/completion`` gets, checked
on the real Qwen model; for ordinary text the tokens are those of the whole prompt tokenized
with special tokens parsed, as before."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.engine_process import free_port, llama_server_env, running_engine
from lsp_fim.backends.base import FimPrompt, GenerationRequest, GenerationStats
from lsp_fim.backends.http_backend import HttpBackend
from lsp_fim.backends.http_stream import EngineAddress
from lsp_fim.backends.llama_cpp import LlamaCppBackend
from lsp_fim.backends.llama_server import CompletionApi, LlamaServerVocabulary, tokenize
from lsp_fim.prompt import ContextFile
from lsp_fim.templates import FimTemplate, load_template

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


def generate(
    backend: LlamaCppBackend | HttpBackend, prefix: str, suffix: str
) -> tuple[str, GenerationStats]:
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
    body = "".join(f"def f{n}(x):\n    return x * {n}\n\n" for n in range(16))
    generate(backend, body + "def add(a, b):\n    return a", SUFFIX + body)
    typed, stats = generate(backend, body + "def add(a, b):\n    return a +", SUFFIX + body)
    assert stats.prompt_tokens > 300
    assert stats.prompt_tokens_evaluated < 60, stats
    assert typed.strip().startswith("b"), typed


# --- llama-server's /completion, with a template ---------------------------------------------

LLAMA_SERVER = os.environ.get("LSP_FIM_LLAMA_SERVER")
needs_llama_server = pytest.mark.skipif(
    not LLAMA_SERVER,
    reason="set LSP_FIM_LLAMA_SERVER=/path/to/llama-server to run against a real engine",
)


@pytest.fixture(scope="module")
def llama_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert LLAMA_SERVER is not None
    binary = Path(LLAMA_SERVER)
    port = free_port()
    env = llama_server_env(binary)
    command = [str(binary), "-m", str(model_path), "--host", "127.0.0.1", "--port", str(port)]
    command += ["-t", "2", "-c", "8192"]
    log_dir = tmp_path_factory.mktemp("llama-server")
    with running_engine("llama-server", command, port, "/health", log_dir, 180, env) as engine:
        yield engine.url


@needs_llama_server
def test_llama_server_gets_the_tokens_a_text_prompt_got(llama_server: str) -> None:
    """For ordinary text the ids sent equal the server's own tokens of the prompt as text."""
    address = EngineAddress.parse(llama_server)
    api = CompletionApi(address, QWEN.bos)
    for name, prefix, suffix, others in list(corpus_prompts())[::4]:
        pieces = QWEN.render_pieces(prefix, suffix, path=name, repo="corpus", extra_files=others)
        sent = api.prompt_fields(FimPrompt(pieces, prefix, suffix))["prompt"]
        text = "".join(piece.text for piece in pieces)
        assert sent == tokenize(address, text, add_special=True, parse_special=True), name


@needs_llama_server
def test_llama_server_gets_marker_strings_in_the_document_as_text(llama_server: str) -> None:
    address = EngineAddress.parse(llama_server)
    specials = {
        tokenize(address, text, add_special=False, parse_special=True)[0]
        for text in QWEN.special_tokens
    }
    pieces = QWEN.render_pieces(PREFIX, SUFFIX)
    sent = CompletionApi(address, QWEN.bos).prompt_fields(FimPrompt(pieces, PREFIX, SUFFIX))
    assert len([token for token in sent["prompt"] if token in specials]) == 3  # the template's
    backend = HttpBackend(address, CompletionApi(address, QWEN.bos), LlamaServerVocabulary(address))
    text, _ = generate(backend, PREFIX, SUFFIX)
    assert text.startswith("a + b"), text
