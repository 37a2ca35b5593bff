"""One completion, top-down: context → template → backend stream → scope stop → post-process.

The LSP server and the CLI both call :meth:`CompletionEngine.complete`; nothing here knows
about LSP or positions, only code-point offsets into the document text.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from lsp_fim.alternatives import branch_starts, is_distinct
from lsp_fim.backends.base import (
    Backend,
    FimPrompt,
    GenerationRequest,
    GenerationStats,
    TokenChoice,
)
from lsp_fim.confidence import confidence, kept_choices
from lsp_fim.config import HTTP_BACKENDS, Settings
from lsp_fim.context import (
    ContextWindow,
    TokenCounter,
    build_window,
    first_lines_within,
    related_snippets,
)
from lsp_fim.languages import language_for
from lsp_fim.models import ProgressCallback, resolve_model
from lsp_fim.postprocess import finish_suggestion
from lsp_fim.prompt import ContextFile, PromptPiece
from lsp_fim.related_files import RelatedDocument
from lsp_fim.scope import (
    GuardFactory,
    StopGuard,
    StopReason,
    no_guard,
    scope_guard,
)
from lsp_fim.suggestion_cache import SuggestionCache
from lsp_fim.templates import FimTemplate

log = logging.getLogger(__name__)

# Window edges move by this many lines (prefix, suffix): a move costs the evaluation of the
# text after the cursor (the prefix itself moves in the KV cache), and coarser steps cost
# context (up to a step of lines less than the budget allows).
STABLE_EDGE_STEP = (16, 8)
# Suggestions an explicit request may get (VS Code cycles through them), and the model runs
# it may spend looking for the others: a start that leads to a suggestion already found, or to
# nothing, costs a run too.
MAX_ALTERNATIVES = 3
BRANCH_TRIES_PER_ALTERNATIVE = 2


@dataclass(frozen=True)
class CompletionRequest:
    """The document as the editor has it and the cursor as a code-point offset into it.

    ``name`` (the path within ``repo``) and ``related`` (other files the user works in) give
    the model the project around the document, where the template has a form for that."""

    text: str
    offset: int
    language_id: str | None = None
    path: str | None = None
    name: str | None = None
    repo: str | None = None
    related: tuple[RelatedDocument, ...] = ()


@dataclass(frozen=True)
class Completion:
    """Insert ``text`` over ``[start, end)`` of the document (code-point offsets)."""

    text: str
    start: int
    end: int
    stop_reason: StopReason
    stats: GenerationStats = field(default_factory=GenerationStats)
    total_ms: float = 0.0
    from_cache: bool = False
    # How sure the model was of the text (``lsp_fim.confidence``); None where the backend
    # does not say (an engine over HTTP that sends no probabilities), for answers from the
    # cache and for alternatives.
    confidence: float | None = None
    # What the model wrote that the stop rule kept, before post-processing, and its tokens
    # (``choices`` index into it): where alternatives branch off.
    generated: str = ""
    choices: tuple[TokenChoice, ...] = ()


@dataclass(frozen=True)
class _Generation:
    """What one model run left: the text the stop rule kept, and why it ended."""

    kept: str
    reason: StopReason
    deadline_passed: bool


@dataclass
class EngineCounters:
    """Totals since start, served as ``lspFim/stats`` so benchmarks see what the model did."""

    requests: int = 0
    from_cache: int = 0
    cancelled: int = 0
    empty: int = 0
    # Suggestions not shown because the model was less sure of them than ``minConfidence``.
    low_confidence: int = 0
    model_runs: int = 0
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    generated_tokens: int = 0
    # Speculative decoding: verifying decodes, tokens drafted, drafted tokens kept.
    verifications: int = 0
    draft_tokens: int = 0
    accepted_draft_tokens: int = 0
    # Work done while the editor was idle: prefills and suggestions computed ahead.
    background_runs: int = 0
    background_tokens_evaluated: int = 0

    def count_model_run(self, stats: GenerationStats, background: bool) -> None:
        if background:
            self.background_runs += 1
            self.background_tokens_evaluated += stats.prompt_tokens_evaluated
            return
        self.model_runs += 1
        self.prompt_tokens += stats.prompt_tokens
        self.prompt_tokens_evaluated += stats.prompt_tokens_evaluated
        self.generated_tokens += stats.generated_tokens
        self.verifications += stats.verifications
        self.draft_tokens += stats.draft_tokens
        self.accepted_draft_tokens += stats.accepted_draft_tokens


class GenerationDeadline:
    """Starts counting at the first generated piece, so a long prompt does not eat into it."""

    def __init__(self, limit_s: float) -> None:
        self._limit_s = limit_s
        self._first_piece_at: float | None = None
        self.passed = False

    def reached(self) -> bool:
        now = time.perf_counter()
        if self._first_piece_at is None:
            self._first_piece_at = now
        self.passed = now - self._first_piece_at > self._limit_s
        return self.passed


class CompletionEngine:
    """Called from two threads at once: the editor's request (``complete``) and the work ahead
    (``prefill``, ``complete_ahead``), while the event loop may replace the settings.

    Who owns what: ``backend`` serialises the model itself (its own lock); ``settings`` and
    the suggestion cache are replaced together, whole, by ``update_settings`` (one reference
    each, read once per request, so a request finishes with the settings it started with and
    never fills the new cache with an answer made under the old ones); the cache guards its
    entries with its own lock; ``counters`` change only under ``_counting``.

    ``guards`` replaces the stop rule the settings choose (``scopeStop``): benchmarks measure
    other rules through this same request path."""

    def __init__(
        self,
        backend: Backend,
        template: FimTemplate,
        settings: Settings,
        guards: GuardFactory | None = None,
    ) -> None:
        self.backend = backend
        self.template = template
        self.settings = settings
        self._guards = guards
        self.counters = EngineCounters()
        self._counting = threading.Lock()
        self._suggestions = SuggestionCache()

    def update_settings(self, settings: Settings) -> None:
        """New settings may change every answer, so remembered suggestions are dropped."""
        self.settings = settings
        self._suggestions = SuggestionCache()

    def counters_snapshot(self) -> EngineCounters:
        with self._counting:
            return replace(self.counters)

    def forget_document(self, path: str | None) -> None:
        """A closed document's remembered suggestions go with it (they hold its text)."""
        self._suggestions.forget(f":{path or ''}:")

    def complete(
        self,
        request: CompletionRequest,
        cancel: threading.Event | None = None,
    ) -> Completion | None:
        """The suggestion at the cursor; its text is empty when nothing is worth showing (its
        stats still say what the model did). None when cancelled or not wanted here."""
        completion = self._complete(request, cancel or threading.Event())
        self._count_request(completion)
        return completion

    def complete_alternatives(
        self,
        request: CompletionRequest,
        cancel: threading.Event | None = None,
        count: int = MAX_ALTERNATIVES,
    ) -> list[Completion]:
        """Up to ``count`` distinct suggestions for a request the user made explicitly: the
        greedy one first (never withheld for low confidence: the user asked; its text may be
        empty, as :meth:`complete`'s), then the model's runners-up where it was least sure,
        each continued greedily (the prompt and the common start stay in the model's cache).
        Empty when cancelled or not wanted here.

        The first is the model's answer remembered for this very context when there is one:
        an editor asks explicitly where it has just asked automatically, and computing that
        answer again took 40 % of the request's time (0.5B, HumanEval multi-line)."""
        cancel = cancel or threading.Event()
        first = self._remembered_answer(request) or self._complete(request, cancel, fresh=True)
        self._count_request(first)
        if first is None or not first.text:
            return [first] if first is not None else []
        found = [first]
        tries = BRANCH_TRIES_PER_ALTERNATIVE * (count - 1)
        for start in branch_starts(first.generated, first.choices)[:tries]:
            if len(found) >= count or cancel.is_set():
                break
            other = self._complete(request, cancel, fresh=True, forced=start)
            if other is not None and is_distinct(other.text, [shown.text for shown in found]):
                found.append(other)
        return [] if cancel.is_set() else found

    def _remembered_answer(self, request: CompletionRequest) -> Completion | None:
        """The model's answer for exactly this context, with its token choices, whatever its
        confidence (None when there is none)."""
        settings, suggestions = self.settings, self._suggestions  # read once: see the class
        prefix, suffix = request.text[: request.offset], request.text[request.offset :]
        entry = suggestions.model_answer(_cache_key(request), prefix, suffix)
        if entry is None or not settings.language_enabled(request.language_id):
            return None
        log.info("complete path=%s from the model's remembered answer", request.path)
        return Completion(
            self._suggestion_text(entry.generated, prefix, suffix),
            request.offset,
            request.offset,
            StopReason(entry.stop_reason),
            from_cache=True,
            confidence=confidence(entry.choices),
            generated=entry.generated,
            choices=entry.choices,
        )

    def _count_request(self, completion: Completion | None) -> None:
        with self._counting:
            self.counters.requests += 1
            self.counters.from_cache += completion is not None and completion.from_cache
            self.counters.empty += completion is None or not completion.text

    def work_ahead_after(
        self, request: CompletionRequest, shown: Completion | None, cancel: threading.Event
    ) -> None:
        """Ahead of the next keystroke: the suggestion after accepting the one shown, or else
        the exact prompt here (typing leaves the far suffix only approximately cached)."""
        if shown is None or not shown.text:
            self.prefill(request, cancel)
            return
        accepted = request.text[: shown.start] + shown.text + request.text[shown.end :]
        cursor = shown.start + len(shown.text)
        self.complete_ahead(replace(request, text=accepted, offset=cursor), cancel)

    def complete_ahead(self, request: CompletionRequest, cancel: threading.Event) -> None:
        """Compute and remember the suggestion for a state the user is likely to reach next
        (after accepting the one shown), so that it is answered from the cache."""
        self._complete(request, cancel, background=True)

    def prefill(self, request: CompletionRequest, cancel: threading.Event) -> None:
        """Put the exact prompt for ``request`` in the model's cache, for the next keystroke."""
        settings = self.settings
        if settings.language_enabled(request.language_id):
            snippets = self._related_snippets(request, settings)
            self._prefill(self._prompt(request, snippets, settings), cancel)

    def prefill_document(self, request: CompletionRequest, cancel: threading.Event) -> None:
        """After opening a file the cursor is unknown: cache its first window as one prefix,
        whose text prompts near the top of the file share and the KV reuse can move."""
        settings = self.settings
        if not settings.language_enabled(request.language_id):
            return
        budget = settings.prefix_tokens + settings.suffix_tokens
        head = first_lines_within(request.text, budget, self.backend.count_tokens)
        snippets = self._related_snippets(request, settings)
        self._prefill(self._render(head, "", request, snippets), cancel)

    def _prefill(self, prompt: FimPrompt, cancel: threading.Event) -> None:
        started = time.perf_counter()
        stats = GenerationStats()
        done = self.backend.prefill(prompt, cancel, stats)
        with self._counting:
            self.counters.count_model_run(stats, background=True)
        log.info(
            "prefill %s evaluated=%d in %.0f ms",
            "done" if done else "gave way",
            stats.prompt_tokens_evaluated,
            (time.perf_counter() - started) * 1000,
        )

    def _complete(
        self,
        request: CompletionRequest,
        cancel: threading.Event,
        background: bool = False,
        *,
        fresh: bool = False,
        forced: str = "",
    ) -> Completion | None:
        """The suggestion, possibly empty; None when cancelled or not wanted here.

        ``fresh``: an explicit request, computed by the model (the rest of a suggestion typed
        through has no probabilities of its own) and shown whatever its confidence.
        ``forced``: an alternative, whose start is given (it goes into no cache)."""
        settings, suggestions = self.settings, self._suggestions  # read once: see the class
        if cancel.is_set() or not settings.language_enabled(request.language_id):
            return None
        started = time.perf_counter()
        prefix, suffix = request.text[: request.offset], request.text[request.offset :]
        cache_key = _cache_key(request)
        if not fresh and (cached := suggestions.lookup(cache_key, prefix, suffix)) is not None:
            log.info("complete path=%s from cache chars=%d", request.path, len(cached.text))
            total_ms = (time.perf_counter() - started) * 1000
            return Completion(
                cached.text,
                request.offset,
                request.offset,
                StopReason(cached.stop_reason),
                total_ms=total_ms,
                from_cache=True,
            )
        prompt = self._prompt(request, self._related_snippets(request, settings), settings)
        language = language_for(request.language_id, request.path)
        guards = self._guards or (scope_guard if settings.scope_stop else no_guard)
        stats = GenerationStats()
        guard = guards(language, prefix, suffix)
        run = self._generate(_with_start(prompt, forced), guard, forced, cancel, background, stats)
        with self._counting:
            self.counters.count_model_run(stats, background)
            self.counters.cancelled += run is None and not background
        if run is None:
            log.info(
                "cancelled path=%s evaluated=%d generated=%d prompt_ms=%.0f",
                request.path,
                stats.prompt_tokens_evaluated,
                stats.generated_tokens,
                stats.prompt_ms,
            )
            return None
        text = self._suggestion_text(run.kept, prefix, suffix)
        # An alternative's tokens follow its given start: they are not the whole suggestion's,
        # and index into no text it keeps; nothing branches from an alternative.
        choices = () if forced else kept_choices(stats.choices, len(run.kept))
        sureness = confidence(choices)
        if text and not fresh and sureness is not None and sureness < settings.min_confidence:
            log.info("not shown: confidence %.2f < minConfidence", sureness)
            text = ""
            with self._counting:
                self.counters.low_confidence += not background
        total_ms = (time.perf_counter() - started) * 1000
        log.info(
            "%s path=%s lang=%s prompt_tokens=%d evaluated=%d generated=%d "
            "prompt_ms=%.0f generate_ms=%.0f total_ms=%.0f stop=%s chars=%d confidence=%s",
            "ahead" if background else "complete",
            request.path,
            language,
            stats.prompt_tokens,
            stats.prompt_tokens_evaluated,
            stats.generated_tokens,
            stats.prompt_ms,
            stats.generate_ms,
            total_ms,
            run.reason,
            len(text),
            "-" if sureness is None else f"{sureness:.2f}",
        )
        if not forced and (text or not run.deadline_passed):
            # Nothing whole within the time limit says how busy the machine was, not what
            # belongs here: asked again, the model may have time to finish a line.
            suggestions.remember(cache_key, prefix, suffix, text, run.reason, run.kept, choices)
        return Completion(
            text,
            request.offset,
            request.offset,
            run.reason,
            stats,
            total_ms,
            confidence=sureness,
            generated=run.kept,
            choices=choices,
        )

    def _generate(
        self,
        prompt: FimPrompt,
        guard: StopGuard,
        forced: str,
        cancel: threading.Event,
        background: bool,
        stats: GenerationStats,
    ) -> _Generation | None:
        """Stream the model's text after ``forced`` through the stop rule; None if cancelled."""
        settings = self.settings
        generation = GenerationRequest(
            prompt, settings.max_tokens, self.template.stop, cancel, background=background
        )
        generated = forced
        decision = guard.feed(generated) if forced else None
        deadline = _generation_deadline(0 if background else settings.max_generate_ms)
        if decision is None:
            for piece in self.backend.stream(generation, stats):
                generated += piece
                decision = guard.feed(generated)
                if decision is not None or deadline.reached():
                    break
        if cancel.is_set():
            return None
        if decision is None:
            ended = (
                StopReason.MAX_TOKENS
                if stats.generated_tokens >= settings.max_tokens or deadline.passed
                else StopReason.EOS
            )
            decision = guard.finish(generated, ended)
        return _Generation(generated[: decision.keep], decision.reason, deadline.passed)

    def _related_snippets(
        self, request: CompletionRequest, settings: Settings
    ) -> tuple[ContextFile, ...]:
        budget = settings.context_file_tokens
        return related_snippets(request.related, budget, self.backend.count_tokens)

    def _prompt(
        self, request: CompletionRequest, snippets: tuple[ContextFile, ...], settings: Settings
    ) -> FimPrompt:
        window = request_window(request, settings, self.backend.count_tokens)
        return self._render(window.prefix, window.suffix, request, snippets)

    def _render(
        self,
        prefix: str,
        suffix: str,
        request: CompletionRequest,
        snippets: tuple[ContextFile, ...],
    ) -> FimPrompt:
        """The rendered prompt, with its parts for engines that lay out prompts themselves."""
        pieces = self.template.render_pieces(
            prefix, suffix, path=request.name, repo=request.repo, extra_files=snippets
        )
        return FimPrompt(pieces, prefix, suffix, snippets)

    def _suggestion_text(self, generated: str, prefix: str, suffix: str) -> str:
        """What the model wrote, as the suggestion to show between ``prefix`` and ``suffix``."""
        return finish_suggestion(self._without_special_tokens(generated), prefix, suffix)

    def _without_special_tokens(self, text: str) -> str:
        for token in self.template.special_tokens:
            text = text.replace(token, "")
        return text


def _cache_key(request: CompletionRequest) -> str:
    """Other files are context too: an answer made without them is not one made with them.
    Their snippets follow from the documents, whose hash costs nothing once known."""
    return f":{request.path or ''}:{hash(request.related)}"


def _with_start(prompt: FimPrompt, start: str) -> FimPrompt:
    """The prompt with the suggestion's first characters given: the model goes on after them."""
    if not start:
        return prompt
    pieces = (*prompt.pieces, PromptPiece(start, marker=False))
    return replace(prompt, pieces=pieces, started=start)


def _generation_deadline(limit_ms: int) -> GenerationDeadline:
    return GenerationDeadline(limit_ms / 1000 if limit_ms else float("inf"))


def request_window(
    request: CompletionRequest, settings: Settings, count_tokens: TokenCounter
) -> ContextWindow:
    """The server's windows: edges on steps, so typing leaves most of the prompt unchanged."""
    return build_window(
        request.text,
        request.offset,
        settings.prefix_tokens,
        settings.suffix_tokens,
        count_tokens,
        STABLE_EDGE_STEP,
    )


def load_engine(settings: Settings, progress: ProgressCallback | None = None) -> CompletionEngine:
    """Open the backend the settings name (for the embedded one: resolve, fetch if needed and
    load the model) and pick its FIM template."""
    backend: Backend
    if settings.backend in HTTP_BACKENDS:
        from lsp_fim.backends.http_engines import open_http_backend

        backend, template = open_http_backend(settings)
    else:
        backend, template = _load_embedded(settings, progress)
    return CompletionEngine(backend, template, settings)


def _load_embedded(
    settings: Settings, progress: ProgressCallback | None
) -> tuple[Backend, FimTemplate]:
    from lsp_fim.backends.llama_cpp import LlamaCppBackend
    from lsp_fim.templates import detect_template, load_template

    model_path: Path = resolve_model(settings.model, progress=progress)
    backend = LlamaCppBackend(model_path, settings.threads, speculate=settings.speculative_decoding)
    template = (
        load_template(settings.template)
        if settings.template
        else detect_template(backend.vocabulary, heals=True)
    )
    log.info("model %s loaded; FIM template %s", model_path, template.name)
    return backend, template
