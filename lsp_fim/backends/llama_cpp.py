"""The embedded backend: llama-cpp-python in this process, greedy, streaming token by token.

Prompts are tokenized here from the rendered template text (special tokens parsed), because
llama-cpp-python's own ``suffix=`` FIM path hard-codes token ids that do not fit most models.
One model serves one generation at a time; callers cancel through ``GenerationRequest.cancel``,
which is checked after every token.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lsp_fim.backends.base import BackendError, GenerationRequest, GenerationStats
from lsp_fim.backends.stop_text import StopTextFilter

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 4096


class LlamaVocabulary:
    """The :class:`~lsp_fim.backends.base.Vocabulary` view of a loaded llama.cpp model."""

    def __init__(self, llama: Any) -> None:
        self._llama = llama

    @property
    def metadata(self) -> Mapping[str, str]:
        return dict(self._llama.metadata)

    def token_text(self, token_id: int) -> str:
        """Ids come from GGUF metadata, which may be wrong; llama.cpp would crash on them."""
        if not 0 <= token_id < self._llama.n_vocab():
            return ""
        return str(self._llama._model.token_get_text(token_id))

    def is_single_token(self, text: str) -> bool:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)) == 1


def _load_llama(model_path: Path, threads: int, context_tokens: int) -> Any:
    try:
        import llama_cpp
    except ImportError as error:  # pragma: no cover - the dependency is declared
        raise BackendError(f"llama-cpp-python is not installed: {error}") from error
    if not model_path.is_file():
        raise BackendError(f"model file not found: {model_path}")
    try:
        return llama_cpp.Llama(
            model_path=str(model_path),
            n_ctx=context_tokens,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
    except (ValueError, RuntimeError) as error:
        raise BackendError(
            f"could not load {model_path} ({error}); is it a complete GGUF file? "
            "Run `lsp-fim model pull` again or pass --model PATH"
        ) from error


class LlamaCppBackend:
    """Streams greedy tokens for FIM prompts; keeps llama-cpp-python's prompt-prefix KV reuse."""

    def __init__(
        self, model_path: Path, threads: int, context_tokens: int = DEFAULT_CONTEXT_TOKENS
    ) -> None:
        self.model_path = model_path
        self._llama = _load_llama(model_path, threads, context_tokens)
        self._lock = threading.Lock()
        self.context_tokens = context_tokens
        self.vocabulary = LlamaVocabulary(self._llama)
        self._stop_ids: dict[tuple[str, ...], frozenset[int]] = {}

    def tokenize(self, text: str) -> list[int]:
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def reset_cache(self) -> None:
        """Greedy output depends (slightly) on how the prompt was batched: a prompt reused from
        the cache and one evaluated anew can pick different near-tie tokens. Comparisons of
        stop rules start cold so that every rule sees the same generation."""
        with self._lock:
            self._llama.reset()
            self._llama._ctx.kv_cache_clear()

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _ends_generation(self, token: int, stop_ids: frozenset[int]) -> bool:
        import llama_cpp

        vocab = self._llama._model.vocab
        return token in stop_ids or bool(llama_cpp.llama_vocab_is_eog(vocab, token))

    def _stop_token_ids(self, stops: tuple[str, ...]) -> frozenset[int]:
        """Every request of a template has the same stops: tokenize them once."""
        if (known := self._stop_ids.get(stops)) is not None:
            return known
        ids = (self.tokenize(stop) for stop in stops)
        self._stop_ids[stops] = frozenset(single[0] for single in ids if len(single) == 1)
        return self._stop_ids[stops]

    def stream(self, request: GenerationRequest, stats: GenerationStats) -> Iterator[str]:
        prompt = self.tokenize(request.prompt)
        max_tokens = min(request.max_tokens, self.context_tokens - len(prompt) - 1)
        if max_tokens <= 0:
            raise BackendError(
                f"prompt of {len(prompt)} tokens leaves no room in the {self.context_tokens}-token "
                "context; lower prefixTokens/suffixTokens"
            )
        stats.prompt_tokens = len(prompt)
        with self._lock:
            if request.cancel.is_set():
                return
            yield from self._generate(prompt, max_tokens, request, stats)

    def _generate(
        self, prompt: list[int], max_tokens: int, request: GenerationRequest, stats: GenerationStats
    ) -> Iterator[str]:
        stop_ids = self._stop_token_ids(request.stop)
        text_filter = StopTextFilter(request.stop)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        cached = self._cached_prefix_length(prompt)
        stats.prompt_tokens_evaluated = len(prompt) - cached
        started = time.perf_counter()
        tokens = self._llama.generate(prompt, temp=0.0, top_k=1, repeat_penalty=1.0)
        try:
            for token in tokens:
                if not stats.prompt_ms:
                    stats.prompt_ms = (time.perf_counter() - started) * 1000
                if request.cancel.is_set() or self._ends_generation(token, stop_ids):
                    break
                stats.generated_tokens += 1
                piece = text_filter.push(decoder.decode(self._llama.detokenize([token])))
                if piece:
                    yield piece
                if text_filter.stopped or stats.generated_tokens >= max_tokens:
                    break
        finally:
            tokens.close()
            stats.generate_ms = (time.perf_counter() - started) * 1000 - stats.prompt_ms
        if not text_filter.stopped and not request.cancel.is_set():
            rest = text_filter.flush() + decoder.decode(b"", final=True)
            if rest:
                yield rest

    def _cached_prefix_length(self, prompt: list[int]) -> int:
        cached = 0
        for previous, current in zip(self._llama._input_ids, prompt, strict=False):
            if previous != current:
                break
            cached += 1
        return cached
