"""Every contact with llama-cpp-python: its low-level bindings of ``llama.h``, nothing private.

The backend needs what the high-level ``Llama`` class does not offer (two sequences in one
unified KV cache, moving and copying cells between them, logits of chosen batch positions), so
it drives llama.cpp through ``llama_cpp.llama_cpp``, which mirrors ``llama.h`` one function for
one. Those bindings follow llama.cpp's C API as it changes: a llama-cpp-python upgrade is
checked against this file alone (the version range tested is pinned in ``pyproject.toml``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lsp_fim.backends.base import BackendError
from lsp_fim.backends.speculation import Prediction

log = logging.getLogger(__name__)

_PIECE_BYTES = 64
# Runners-up are looked for within this many logits (nats) of the best token: a token e^-8
# times less likely than the chosen one is no alternative a user would want.
_RUNNER_UP_LOGIT_GAP = 8.0
# Tokens that continue a healed one are looked for among this many likeliest tokens.
_STARTING_CANDIDATES = 256
# llama_decode's status for a decode stopped by the abort callback.
_ABORTED = 2
# How often a caller waiting for a decode that may be stopped looks at its stop event.
_STOP_POLL_S = 0.002
_backend_started = threading.Lock()
# llama.cpp's log callback, kept referenced for as long as llama.cpp may call it.
_log_callback: Any = None


def _bindings() -> Any:
    try:
        import llama_cpp
    except ImportError as error:  # pragma: no cover - the dependency is declared
        raise BackendError(f"llama-cpp-python is not installed: {error}") from error
    return llama_cpp


def _start_backend(llama_cpp: Any) -> None:
    """``llama_backend_init`` once per process, as ``Llama`` does, and llama.cpp's log lines
    to our debug log: on stderr they would bury our own lines (each load writes some), and
    llama-cpp-python's filter reads llama.cpp's warnings as errors."""
    global _log_callback
    with _backend_started:
        if _log_callback is None:
            _log_callback = llama_cpp.llama_log_callback(_log_llama_line)
            llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
            llama_cpp.llama_backend_init()


def _log_llama_line(level: int, text: bytes, user_data: Any) -> None:
    log.debug("llama.cpp: %s", text.decode("utf-8", errors="replace").rstrip())


def _flag_reader(llama_cpp: Any) -> Any | None:
    """A C function that answers llama.cpp's abort check from a flag in memory: libc's
    ``strlen`` on a two-byte buffer, 0 (go on) or 1 (stop).

    llama.cpp asks after every step of a decode's graph, on its own compute thread: a Python
    callback there would take the GIL hundreds of times a decode, and wait for it behind
    whatever the server's other threads do. ``strlen`` reads the flag without Python. Its
    ``size_t`` result comes back in the register a C ``bool`` is read from on the platforms
    llama.cpp builds for (x86-64, arm64), 0 or 1. None where there is no C library to ask:
    decodes then run to their end.
    """
    try:
        libc = ctypes.cdll.msvcrt if os.name == "nt" else ctypes.CDLL(None)
        return ctypes.cast(libc.strlen, llama_cpp.ggml_abort_callback)
    except (OSError, AttributeError):  # pragma: no cover - every supported platform has one
        return None


def _log_total(logits: Any, top: float) -> float:
    """The log of the sum of ``exp(logits)``, computed from their largest value ``top``:
    a token's log-probability among them is its logit less this."""
    return top + float(np.log(np.exp(logits - top).sum()))


class LlamaLike(Protocol):
    """What :class:`LlamaVocabulary` reads: met by ``llama_cpp.Llama`` (tests and the bench
    open its vocabulary-only form) and by :class:`LlamaModel`."""

    @property
    def metadata(self) -> Mapping[str, str]: ...

    @property
    def model(self) -> Any: ...

    def tokenize(self, text: bytes, add_bos: bool = ..., special: bool = ...) -> list[int]: ...


class LlamaVocabulary:
    """The :class:`~lsp_fim.backends.base.Vocabulary` view of a loaded llama.cpp model."""

    def __init__(self, llama: LlamaLike) -> None:
        self._llama = llama
        llama_cpp = _bindings()
        self._vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self._size = int(llama_cpp.llama_vocab_n_tokens(self._vocab))

    @property
    def metadata(self) -> Mapping[str, str]:
        return dict(self._llama.metadata)

    def token_text(self, token_id: int) -> str:
        """Ids come from GGUF metadata, which may be wrong; llama.cpp would crash on them."""
        if not 0 <= token_id < self._size:
            return ""
        text: bytes = _bindings().llama_vocab_get_text(self._vocab, token_id)
        return text.decode("utf-8")

    def is_single_token(self, text: str) -> bool:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)) == 1


class LlamaModel:
    """A model and one context whose unified KV cache holds ``sequences`` sequences.

    Sequences share cells: a cell copied from one to another costs nothing, which is how
    ``kv_reuse`` evaluates changed tokens beside the main sequence. One thread at a time.

    Every decode runs on one thread of its own (``_compute``), whoever calls: llama.cpp's
    OpenMP keeps a team of worker threads per calling thread, and a team left behind by the
    previous caller still spins while the next one works. The server calls from whichever
    worker thread is free; on 2 cores, callers that alternated made a keystroke's prompt cost
    25-35 % more (10 changed tokens: 152-165 ms, against 120 ms from one thread).
    """

    def __init__(
        self, model_path: Path, threads: int, context_tokens: int, sequences: int = 2
    ) -> None:
        llama_cpp = _bindings()
        _start_backend(llama_cpp)
        self._api = llama_cpp
        self._ctx: Any = None
        self._compute = ThreadPoolExecutor(1, thread_name_prefix="llama-decode")
        # Read by llama.cpp during a decode (``_flag_reader``); written by the one caller of
        # the running decode, which sets it when that decode is to stop.
        self._stop_flag = ctypes.create_string_buffer(2)
        self._flag_reader = _flag_reader(llama_cpp)
        self.batch_tokens = min(context_tokens, 512)
        self.model = self._load_model(model_path)
        try:
            self._ctx = llama_cpp.llama_init_from_model(
                self.model, self._context_params(threads, context_tokens, sequences)
            )
            if self._ctx is None:
                raise ValueError("llama.cpp could not create a context")
        except BaseException:
            llama_cpp.llama_model_free(self.model)
            raise
        self._vocab = llama_cpp.llama_model_get_vocab(self.model)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(self.batch_tokens, 0, 1)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self.metadata = self._read_metadata()

    def _load_model(self, model_path: Path) -> Any:
        params = self._api.llama_model_default_params()
        params.n_gpu_layers = 0
        # Read into memory, not mapped: a model file cut while the server runs (a copy over
        # it, a download into its place) killed the process with SIGBUS at the next
        # suggestion. Same resident memory; the load reads the file once.
        params.load_mode = self._api.LLAMA_LOAD_MODE_NONE
        model = self._api.llama_model_load_from_file(str(model_path).encode("utf-8"), params)
        if model is None:
            raise ValueError("llama.cpp could not read it")
        return model

    def _context_params(self, threads: int, context_tokens: int, sequences: int) -> Any:
        """The context ``Llama(n_ctx, n_threads, n_threads_batch, flash_attn=False)`` makes,
        with ``sequences`` sequences in one unified cache, which ``Llama`` cannot ask for."""
        params = self._api.llama_context_default_params()
        params.n_ctx = context_tokens
        params.n_batch = params.n_ubatch = self.batch_tokens
        params.n_threads = params.n_threads_batch = threads
        params.flash_attn_type = self._api.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_seq_max = sequences
        params.kv_unified = True
        if self._flag_reader is not None:
            params.abort_callback = self._flag_reader
            params.abort_callback_data = ctypes.cast(self._stop_flag, ctypes.c_void_p)
        return params

    def _read_metadata(self) -> dict[str, str]:
        size = 1024
        buffer = ctypes.create_string_buffer(size)
        metadata = {}
        for index in range(self._api.llama_model_meta_count(self.model)):
            self._api.llama_model_meta_key_by_index(self.model, index, buffer, size)
            key = buffer.value.decode("utf-8", errors="replace")
            needed = self._api.llama_model_meta_val_str_by_index(self.model, index, buffer, size)
            if needed >= size:
                value = ctypes.create_string_buffer(needed + 1)
                self._api.llama_model_meta_val_str_by_index(self.model, index, value, needed + 1)
                metadata[key] = value.value.decode("utf-8", errors="replace")
            else:
                metadata[key] = buffer.value.decode("utf-8", errors="replace")
        return metadata

    def close(self) -> None:
        """Free llama.cpp's memory now rather than whenever the garbage collector runs."""
        if self._ctx is not None:
            self._compute.shutdown()
            self._api.llama_batch_free(self._batch)
            self._api.llama_free(self._ctx)
            self._api.llama_model_free(self.model)
            self._ctx = None

    def __del__(self) -> None:
        self.close()

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        room = len(text) + 2
        tokens = (self._api.llama_token * room)()
        count = self._api.llama_tokenize(
            self._vocab, text, len(text), tokens, room, add_bos, special
        )
        if count < 0:  # more tokens than bytes
            raise BackendError(f"could not tokenize {len(text)} bytes")
        return list(tokens[:count])

    def piece(self, token: int) -> bytes:
        """The bytes ``token`` stands for in generated text (special tokens give none)."""
        buffer = ctypes.create_string_buffer(_PIECE_BYTES)
        length = self._api.llama_token_to_piece(self._vocab, token, buffer, _PIECE_BYTES, 0, False)
        if length < 0:
            buffer = ctypes.create_string_buffer(-length)
            length = self._api.llama_token_to_piece(self._vocab, token, buffer, -length, 0, False)
        return buffer.raw[:length]

    def ends_generation(self, token: int) -> bool:
        """An end-of-generation token (end of text, end of turn, FIM pad…) per the model."""
        return bool(self._api.llama_vocab_is_eog(self._vocab, token))

    def decode(
        self,
        tokens: Sequence[int],
        start: int,
        sequence: int,
        all_logits: bool = False,
        stop: threading.Event | None = None,
    ) -> bool:
        """Evaluate ``tokens`` at positions ``start…`` of ``sequence``, at most
        ``batch_tokens`` of them. Logits are kept for the last token, or every token.

        False if ``stop`` was set before the decode finished: it stops within a step of its
        graph (well under a millisecond) and llama.cpp drops its cells again, leaving
        ``sequence`` as it was."""
        batch = self._batch
        last = len(tokens) - 1
        for index, token in enumerate(tokens):
            batch.token[index] = token
            batch.pos[index] = start + index
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = sequence
            batch.logits[index] = all_logits or index == last
        batch.n_tokens = len(tokens)
        self._stop_flag[0] = b"\x00"  # a stop asked of the decode before is no stop for this one
        if stop is not None and stop.is_set():
            return False
        running = self._compute.submit(self._api.llama_decode, self._ctx, batch)
        status = running.result() if stop is None else self._await(running, stop)
        if status == _ABORTED and stop is not None:
            return False
        if status != 0:
            raise BackendError(f"llama.cpp could not evaluate {len(tokens)} tokens ({status})")
        return True

    def _await(self, running: Future[int], stop: threading.Event) -> int:
        """The decode's status; when ``stop`` is set meanwhile, the flag that stops it is."""
        while True:
            try:
                return running.result(timeout=_STOP_POLL_S)
            except TimeoutError:
                if stop.is_set():
                    self._stop_flag[0] = b"\x01"
                    return running.result()

    def predict(self, index: int, runners_up: int) -> Prediction:
        """The most likely next token after batch position ``index`` of the last decode
        (-1: the last), the first of equals as llama.cpp's greedy sampler picks it, with its
        log-probability and the ``runners_up`` next most likely tokens with theirs."""
        logits = self._logits(index)
        best = int(np.argmax(logits))
        top = float(logits[best])
        log_total = _log_total(logits, top)
        others: tuple[tuple[int, float], ...] = ()
        if runners_up:
            # Only tokens near the best can be runners-up worth a branch: a comparison finds
            # them in a fraction of what a partition of the vocabulary costs.
            near = np.flatnonzero(logits >= top - _RUNNER_UP_LOGIT_GAP)
            ranked = sorted((int(c) for c in near if c != best), key=lambda c: -logits[c])
            others = tuple((c, float(logits[c]) - log_total) for c in ranked[:runners_up])
        return Prediction(best, top - log_total, others)

    def predict_among(
        self, index: int, runners_up: int, qualifies: Callable[[bytes], bool], fallback: int
    ) -> Prediction:
        """:meth:`predict` among the tokens whose text ``qualifies`` (token healing: they
        write the text the prompt left out), probabilities taken among those. They are looked
        for among the likeliest tokens; ``fallback``, which always qualifies, when none of
        those does."""
        logits = self._logits(index)
        likeliest = np.argpartition(logits, -_STARTING_CANDIDATES)[-_STARTING_CANDIDATES:]
        ranked = sorted((int(c) for c in likeliest), key=lambda c: (-logits[c], c))
        fitting = [c for c in ranked if qualifies(self.piece(c))]
        if not fitting:
            return Prediction(fallback)
        top = float(logits[fitting[0]])
        log_total = _log_total(logits[fitting], top)
        others = tuple((c, float(logits[c]) - log_total) for c in fitting[1 : runners_up + 1])
        return Prediction(fitting[0], top - log_total, others)

    def _logits(self, index: int) -> Any:
        row = self._api.llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(row, shape=(self.n_vocab,))

    def remove(self, sequence: int, start: int, end: int = -1) -> None:
        """Drop ``sequence``'s cells at positions ``[start, end)`` (-1: all, or to the end)."""
        self._api.llama_memory_seq_rm(self._memory, sequence, start, end)

    def copy(self, source: int, target: int, start: int, end: int) -> None:
        """``target`` shares ``source``'s cells at positions ``[start, end)``."""
        self._api.llama_memory_seq_cp(self._memory, source, target, start, end)

    def shift(self, sequence: int, start: int, end: int, delta: int) -> None:
        """Move ``sequence``'s cells at ``[start, end)`` by ``delta`` positions (a KV shift)."""
        self._api.llama_memory_seq_add(self._memory, sequence, start, end, delta)

    def clear(self) -> None:
        """Empty the KV cache of every sequence."""
        self._api.llama_memory_clear(self._memory, True)
