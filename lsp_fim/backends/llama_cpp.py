"""The embedded backend: llama-cpp-python in this process, greedy, streaming token by token.

Prompts are tokenized here from the template's rendered pieces, because llama-cpp-python's own
``suffix=`` FIM path hard-codes token ids that do not fit most models: special tokens are
parsed in the template's markers only, so that a document containing ``<|fim_middle|>`` gives
the model that text, not the token.
One model serves one generation at a time; callers cancel through ``GenerationRequest.cancel``,
which is checked after every token; work ahead (``prefill``) also gives way between prompt
batches, and a keystroke's prompt decode stops within a step of its graph.

The KV cache is managed here, through ``llama_adapter``, rather than by llama-cpp-python (see
``kv_reuse``): changed prompt tokens are evaluated in a second sequence and only then swapped
into the main one, because llama.cpp decodes a sequence only at positions after its last one,
and because a cancelled evaluation must leave the cache as it was (unless the cache held
nothing the new prompt can use: then what was evaluated is kept). Generation verifies
tokens drafted by prompt lookup in one decode (``speculation``); the cells of rejected drafts
leave the cache at once, so that the cache always holds what ``_cached`` lists.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from lsp_fim.backends.base import (
    RUNNERS_UP,
    BackendError,
    FimPrompt,
    GenerationRequest,
    GenerationStats,
    TokenChoice,
)
from lsp_fim.backends.kv_reuse import ReusePlan, plan_reuse
from lsp_fim.backends.llama_adapter import LlamaModel, LlamaVocabulary
from lsp_fim.backends.speculation import (
    Drafter,
    Prediction,
    PromptLookup,
    Verifier,
    greedy_tokens,
)
from lsp_fim.backends.stop_text import StopTextFilter
from lsp_fim.backends.token_healing import (
    DraftsAfterHealing,
    GivenText,
    HealingVerifier,
    heal,
)
from lsp_fim.prompt import PromptPiece

__all__ = ["DEFAULT_CONTEXT_TOKENS", "LlamaCppBackend", "LlamaVocabulary"]

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 4096
# Prompt tokens decoded between two looks at the cancel flag of work ahead: small enough that
# a keystroke waits little for it to give way. Editor requests decode in big batches: every
# batch costs about as much as a token of generation on top of its tokens.
PROMPT_BATCH_TOKENS = 32
# A prompt with at most this many tokens to evaluate is a keystroke's: its decode (the typed
# text and the suffix head) stops when a later keystroke comes. Larger ones (a new place in
# the file) finish, or fast typing there would never let one through.
KEYSTROKE_TOKENS = 64
MAIN_SEQUENCE, ASIDE_SEQUENCE = 0, 1


def _load_model(model_path: Path, threads: int, context_tokens: int) -> LlamaModel:
    if not model_path.is_file():
        raise BackendError(f"model file not found: {model_path}")
    try:
        return LlamaModel(model_path, threads, context_tokens)
    except ValueError as error:
        raise BackendError(
            f"could not load {model_path} ({error}); is it a complete GGUF file? "
            "Run `lsp-fim model pull` again or pass --model PATH"
        ) from error


class LlamaCppBackend:
    """Streams greedy tokens for FIM prompts, reusing the KV cache across edits (``kv_reuse``)."""

    def __init__(
        self,
        model_path: Path,
        threads: int,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        speculate: bool = True,
    ) -> None:
        self.model_path = model_path
        # Speculative decoding (``speculation``); off, every token is its own decode.
        self.speculate = speculate
        self._model = _load_model(model_path, threads, context_tokens)
        self._lock = threading.Lock()
        self.context_tokens = context_tokens
        self.vocabulary = LlamaVocabulary(self._model)
        self._stop_ids: dict[tuple[str, ...], frozenset[int]] = {}
        # The tokens whose cells the main sequence holds, position by position.
        self._cached: list[int] = []
        # Cached positions below this hold exactly what a full evaluation would; a reused run
        # moved after changed tokens is close but not exact until ``prefill`` redoes it.
        self._exact_until = 0

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        return self._model.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def _text_tokens(self, text: str) -> list[int]:
        """A prompt's text piece as :meth:`tokenize_prompt` tokenizes it."""
        return self.tokenize(text, special=False)

    def tokenize_prompt(self, pieces: Sequence[PromptPiece]) -> list[int]:
        """Markers with special tokens parsed, text without. Text pieces lie between markers,
        where llama.cpp would cut a text it parses anyway, so an ordinary document gets the
        same tokens as its whole prompt tokenized with special tokens parsed."""
        return [token for tokens in self._piece_tokens(pieces) for token in tokens]

    def _piece_tokens(self, pieces: Sequence[PromptPiece]) -> list[list[int]]:
        return [self.tokenize(piece.text, special=piece.marker) for piece in pieces]

    def reset_cache(self) -> None:
        """Greedy output depends (slightly) on how the prompt was batched: a prompt reused from
        the cache and one evaluated anew can pick different near-tie tokens. Comparisons of
        stop rules start cold so that every rule sees the same generation."""
        with self._lock:
            self._model.clear()
            self._cached = []
            self._exact_until = 0

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self.tokenize(text, special=False))

    def _ends_generation(self, token: int, stop_ids: frozenset[int]) -> bool:
        return token in stop_ids or self._model.ends_generation(token)

    def _stop_token_ids(self, stops: tuple[str, ...]) -> frozenset[int]:
        """Every request of a template has the same stops: tokenize them once."""
        if (known := self._stop_ids.get(stops)) is not None:
            return known
        ids = (self.tokenize(stop) for stop in stops)
        self._stop_ids[stops] = frozenset(single[0] for single in ids if len(single) == 1)
        return self._stop_ids[stops]

    def _prompt_tokens(self, prompt: FimPrompt, max_tokens: int) -> tuple[list[int], int, int]:
        """The prompt's tokens, the room left to generate, and how many of the tokens are its
        last piece's (where token healing cuts)."""
        pieces = self._piece_tokens(prompt.pieces)
        tokens = [token for piece in pieces for token in piece]
        room = min(max_tokens, self.context_tokens - len(tokens) - 1)
        if room < 0 or not tokens:
            raise BackendError(
                f"prompt of {len(tokens)} tokens leaves no room in the {self.context_tokens}-token "
                "context; lower prefixTokens/suffixTokens"
            )
        return tokens, room, len(pieces[-1])

    def stream(self, request: GenerationRequest, stats: GenerationStats) -> Iterator[str]:
        """A superseded editor request still finishes its prompt (but generates nothing): the
        request that superseded it is a keystroke later and shares all but a few tokens of it,
        so the work is kept instead of started over on every keystroke. Only the part of a
        keystroke's prompt that the next keystroke evaluates again anyway stops at once
        (``_load_prompt``). Background work gives way at once."""
        prompt, max_tokens, last_piece_size = self._prompt_tokens(
            request.prompt, request.max_tokens
        )
        if max_tokens == 0:
            raise BackendError("no room left to generate: lower prefixTokens/suffixTokens")
        prompt, given = heal(
            request.prompt, prompt, last_piece_size, self._text_tokens, self._model.piece
        )
        stats.prompt_tokens = len(prompt)
        with self._lock:
            if request.cancel.is_set():
                return
            started = time.perf_counter()
            if request.background:
                evaluated = self._load_prompt(prompt, give_way=request.cancel)
            else:
                evaluated = self._load_prompt(prompt, stop_head=request.cancel)
            if evaluated is None:
                return
            stats.prompt_tokens_evaluated = evaluated + 1
            if request.cancel.is_set():
                stats.prompt_ms = (time.perf_counter() - started) * 1000
                return
            yield from self._generate(prompt, max_tokens, request, stats, started, given)

    def prefill(self, prompt: FimPrompt, cancel: threading.Event, stats: GenerationStats) -> bool:
        """Evaluate ``prompt`` exactly, ahead of the request that will need it.

        Gives way to any request (cancel is checked every batch) and leaves the cache as it
        was when it does, or with the start of this prompt where the cache held nothing it
        can use (``_keep_partial``); returns whether the prompt is now cached exactly.
        """
        tokens, _, _ = self._prompt_tokens(prompt, 0)
        stats.prompt_tokens = len(tokens)
        with self._lock:
            if cancel.is_set():
                return False
            evaluated = self._load_prompt(tokens, cancel)
            stats.prompt_tokens_evaluated = evaluated or 0
            return evaluated is not None

    def _load_prompt(
        self,
        prompt: list[int],
        give_way: threading.Event | None = None,
        stop_head: threading.Event | None = None,
    ) -> int | None:
        """Make the main sequence hold ``prompt[:-1]``; the tokens evaluated, None if abandoned.

        ``give_way`` None: an editor request, which moves runs (approximate) and finishes,
        with one exception. A keystroke's prompt is the typed text and the head of the moved
        suffix, evaluated again after it; when ``stop_head`` is set (a later keystroke came)
        that decode stops at once, and the typed text alone is decoded again: the next
        keystroke evaluates the head again anyway, and the head's old cells, moved along
        with its run, stand in for it meanwhile. Otherwise work ahead: evaluated exactly,
        nothing moved, so that it can be abandoned when ``give_way`` is set with the cache
        left as it was.
        """
        cached = self._cached
        reuse_runs = give_way is None
        plan = plan_reuse(cached, prompt, reuse_runs)
        if not reuse_runs and self._exact_until < plan.keep:
            plan = ReusePlan(self._exact_until, plan.end)
        if len(cached) + plan.fresh_tokens >= self.context_tokens:
            self._truncate(plan.keep)
            plan = ReusePlan(plan.keep, plan.end)
        if plan.runs:
            self._move_runs(plan)
        stoppable = stop_head is not None and plan.fresh_tokens <= KEYSTROKE_TOKENS
        head = plan.last_head_start if stoppable else None
        reached = self._evaluate_aside(prompt, plan, give_way, head, stop_head)
        if reached < plan.end and give_way is not None:
            self._keep_partial(prompt, plan, reached)
            return None
        self._adopt_aside(plan, reached)
        self._remember(prompt, plan, reached)
        return plan.fresh_tokens if reached == plan.end else None

    def _keep_partial(self, prompt: list[int], plan: ReusePlan, reached: int) -> None:
        """Work ahead that gave way at ``reached`` keeps what it evaluated when the cached
        cells past the common prefix serve this prompt in no way (another document's, after
        a ``didOpen``): the request that interrupted it, or the next prefill, goes on from
        there instead of starting over. Otherwise the cache stays as it was."""
        shared = plan_reuse(self._cached, prompt)
        if not plan.runs and not shared.runs and reached > shared.keep:
            partial = ReusePlan(plan.keep, reached)
            self._adopt_aside(partial, reached)
            self._remember(prompt, partial, reached)
            log.debug("work ahead gave way; kept %d evaluated tokens", reached - plan.keep)
        else:
            self._model.remove(ASIDE_SEQUENCE, 0)

    def _move_runs(self, plan: ReusePlan) -> None:
        """Leave the main sequence holding only ``[0, keep)`` and the runs, moved into place.

        Runs may come in any cache order (a suffix-first prompt swaps text between its
        suffix and its prefix), so no run may land on cells another run still has to move:
        each first moves above every cell, then into place. Two KV shifts of a cell add up
        to one (llama.cpp rotates its keys once, at the next decode).
        """
        start = plan.keep
        for run in sorted(plan.runs, key=lambda run: run.old_start):
            self._model.remove(MAIN_SEQUENCE, start, run.old_start - run.head)
            start = run.old_end
        self._model.remove(MAIN_SEQUENCE, start)
        above = max(len(self._cached), plan.end) + 1
        for run in plan.runs:
            self._model.shift(MAIN_SEQUENCE, run.old_start - run.head, run.old_end, above)
        for run in plan.runs:
            held = (run.old_start - run.head + above, run.old_end + above)
            self._model.shift(MAIN_SEQUENCE, *held, run.shift - above)

    def _evaluate_aside(
        self,
        prompt: list[int],
        plan: ReusePlan,
        give_way: threading.Event | None,
        head: int | None = None,
        stop_head: threading.Event | None = None,
    ) -> int:
        """Decode the plan's fresh spans in the aside sequence, which shares the kept prefix
        and the moved runs, each span after all that precedes it; the one holding ``head``
        stops at ``head`` when ``stop_head`` is set. Returns ``plan.end``, or when stopped
        the position up to which the aside sequence holds the prompt."""
        self._model.remove(ASIDE_SEQUENCE, 0)
        self._model.copy(MAIN_SEQUENCE, ASIDE_SEQUENCE, 0, plan.keep)
        pending = list(plan.runs)
        for start, stop in plan.fresh_spans:
            while pending and pending[0].new_end <= start:
                run = pending.pop(0)
                self._model.copy(MAIN_SEQUENCE, ASIDE_SEQUENCE, run.new_start, run.new_end)
            if head is not None and start <= head < stop:
                if not self._decode_stoppable(prompt, start, head, stop, stop_head):
                    return head
                continue
            decoded = self._decode_aside(prompt[start:stop], start, give_way)
            if decoded < stop - start:
                return start + decoded
        return plan.end

    def _decode_stoppable(
        self,
        prompt: list[int],
        start: int,
        head: int,
        stop: int,
        stop_head: threading.Event | None,
    ) -> bool:
        """A keystroke's span in one decode that stops when ``stop_head`` is set; then its
        tokens before ``head`` (the typed text) are decoded again on their own, so that the
        cache keeps up with typing. Whether the whole span was decoded."""
        if self._model.decode(prompt[start:stop], start, ASIDE_SEQUENCE, stop=stop_head):
            return True
        if head > start:
            self._model.decode(prompt[start:head], start, ASIDE_SEQUENCE)
        return False

    def _decode_aside(self, tokens: list[int], start: int, cancel: threading.Event | None) -> int:
        """The tokens decoded: all, unless ``cancel`` was set (``None``: an editor request,
        which finishes its prompt in big batches)."""
        size = self._model.batch_tokens if cancel is None else PROMPT_BATCH_TOKENS
        for offset in range(0, len(tokens), size):
            if cancel is not None and cancel.is_set():
                return offset
            self._model.decode(tokens[offset : offset + size], start + offset, ASIDE_SEQUENCE)
        return len(tokens)

    def _adopt_aside(self, plan: ReusePlan, reached: int) -> None:
        """The main sequence takes the freshly evaluated spans (up to ``reached``) in place of
        the old head cells moved there; old cells it no longer needs go."""
        if not plan.runs:
            self._model.remove(MAIN_SEQUENCE, plan.keep)
        for start, stop in plan.fresh_spans_before(reached):
            self._model.remove(MAIN_SEQUENCE, start, stop)
            self._model.copy(ASIDE_SEQUENCE, MAIN_SEQUENCE, start, stop)
        self._model.remove(ASIDE_SEQUENCE, 0)

    def _truncate(self, length: int) -> None:
        """The main sequence keeps its first ``length`` positions."""
        self._model.remove(MAIN_SEQUENCE, length)
        del self._cached[length:]
        self._exact_until = min(self._exact_until, length)

    def _remember(self, prompt: list[int], plan: ReusePlan, reached: int) -> None:
        """The main sequence now holds the prompt but its last token, which starts generation;
        evaluated anew up to ``reached`` (old moved cells from there)."""
        self._cached = prompt[: plan.end]
        if self._exact_until >= plan.keep:
            self._exact_until = min(plan.exact_end, reached)

    def _generate(
        self,
        prompt: list[int],
        max_tokens: int,
        request: GenerationRequest,
        stats: GenerationStats,
        started: float,
        given: GivenText | None = None,
    ) -> Iterator[str]:
        """Greedy tokens after ``prompt``; with ``given`` (text the prompt left out at its
        end), the first ones write it, and the suggestion leaves it out (token healing).
        Drafts wait while a given text may take several tokens (``DraftsAfterHealing``)."""
        stop_ids = self._stop_token_ids(request.stop)
        text_filter = StopTextFilter(request.stop)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        lookup: Drafter | None = PromptLookup(prompt) if self.speculate else None
        verifier: Verifier = self
        if given is not None:
            verifier = HealingVerifier(self, given)
            if lookup is not None:
                lookup = DraftsAfterHealing(lookup, given)
        predictions = greedy_tokens(verifier, prompt[-1], lookup, max_tokens, request.cancel, stats)
        generated_chars = 0
        try:
            for prediction in predictions:
                if not stats.prompt_ms:
                    stats.prompt_ms = (time.perf_counter() - started) * 1000
                if request.cancel.is_set() or self._ends_generation(prediction.token, stop_ids):
                    break
                stats.generated_tokens += 1
                left_out = given.rest if given else b""
                token_bytes = self._model.piece(prediction.token)
                text = decoder.decode(given.consume(token_bytes) if given else token_bytes)
                generated_chars += len(text)
                stats.choices.append(self._choice(prediction, generated_chars, stop_ids, left_out))
                piece = text_filter.push(text)
                if piece:
                    yield piece
                if text_filter.stopped or stats.generated_tokens >= max_tokens:
                    break
        finally:
            predictions.close()
            stats.generate_ms = (time.perf_counter() - started) * 1000 - stats.prompt_ms
        if not text_filter.stopped and not request.cancel.is_set():
            rest = text_filter.flush() + decoder.decode(b"", final=True)
            if rest:
                yield rest

    def _choice(
        self, prediction: Prediction, end: int, stop_ids: frozenset[int], given: bytes = b""
    ) -> TokenChoice:
        """The runners-up that are text of their own: not an end of generation, not a part of
        a character, more than a part of the text healed (``given``, left out of them)."""
        runners_up = []
        for token, logprob in prediction.runners_up:
            token_bytes = self._model.piece(token)
            if not token_bytes.startswith(given):
                continue
            try:
                text = token_bytes[len(given) :].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if text and not self._ends_generation(token, stop_ids):
                runners_up.append((text, logprob))
        return TokenChoice(end, prediction.logprob, tuple(runners_up))

    def verify(self, tokens: Sequence[int], healing: GivenText | None = None) -> list[Prediction]:
        """The :class:`~lsp_fim.backends.speculation.Verifier` side: ``tokens`` are evaluated
        after the cached ones, in one decode. With ``healing``, the first prediction is among
        the tokens that qualify for its text (``LlamaModel.predict_among``)."""
        self._model.decode(tokens, len(self._cached), MAIN_SEQUENCE, all_logits=True)
        self._cached += tokens
        return [
            self._model.predict_among(0, RUNNERS_UP, healing.qualifies, healing.fallback)
            if healing and not index
            else self._model.predict(index, RUNNERS_UP)
            for index in range(len(tokens))
        ]

    def forget(self, count: int) -> None:
        if count:
            self._truncate(len(self._cached) - count)
