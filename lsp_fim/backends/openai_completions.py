"""OpenAI-compatible ``/v1/completions`` (vLLM, Ollama, llama-server, ...): the prompt our
template renders, generated greedily and streamed.

Such a server shows the model's name but not its tokens, so the FIM template is recognised by
the name (``backendModel``, else the first model the server lists) or set with ``template``.
The API has no way to warm a cache ahead of a request: ``prefill`` does nothing (vLLM and
llama-server reuse a shared prompt prefix on their own, Ollama keeps the last prompt).

Token probabilities are asked for (``logprobs``) and read where they come: in OpenAI's form
(``tokens``, ``token_logprobs``, ``top_logprobs``; vLLM) or in llama-server's (``content``).
An engine that sends none still answers; its suggestions have no confidence.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

from lsp_fim.backends.base import RUNNERS_UP, BackendError, FimPrompt, GenerationStats
from lsp_fim.backends.http_backend import (
    MAX_CANDIDATES,
    MAX_EVENT_TOKENS,
    HttpBackend,
    Request,
    TokenLogprobs,
    logprob_from,
    token_text_from,
)
from lsp_fim.backends.http_stream import EngineAddress, field_number, field_text, request_json
from lsp_fim.backends.llama_server import read_timings, read_token_entries
from lsp_fim.templates import (
    FimTemplate,
    NoFimSupportError,
    TemplateError,
    detect_template,
    load_template,
    template_names,
)

log = logging.getLogger(__name__)


class OpenAICompletionsApi:
    def __init__(self, path: str, model: str, bos: str) -> None:
        self.path = path
        self._model = model
        self._bos = bos

    def generation(self, prompt: FimPrompt, max_tokens: int, stop: tuple[str, ...]) -> Request:
        """The server adds the model's BOS itself; the template's would be a second one."""
        body = {
            "model": self._model,
            "prompt": prompt.text.removeprefix(self._bos),
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
            # The likeliest tokens at each step, the chosen one among them (OpenAI allows 5).
            "logprobs": RUNNERS_UP + 1,
        }
        if stop:
            body["stop"] = list(stop)
        return self.path, body

    def warm_up(self, prompt: FimPrompt) -> None:
        return None

    def read_event(self, event: Mapping[str, Any], stats: GenerationStats) -> str:
        """Pieces are counted as tokens until ``usage`` (the last event, when the stream is
        read to its end) gives the exact counts."""
        choices = event.get("choices") or [{}]
        if not isinstance(choices, list) or not isinstance(choices[0], Mapping):
            raise BackendError(f"malformed answer: choices is {choices!r}")
        piece = field_text(choices[0], "text")
        stats.generated_tokens += bool(piece)
        if isinstance(usage := event.get("usage"), Mapping):
            _read_usage(usage, stats)
        read_timings(event.get("timings"), stats)  # llama-server adds its own
        return piece

    def read_tokens(self, event: Mapping[str, Any]) -> list[TokenLogprobs] | None:
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            return None
        logprobs = choices[0].get("logprobs")
        if not isinstance(logprobs, Mapping):
            return None
        if "content" in logprobs:  # llama-server
            return read_token_entries(logprobs["content"])
        return _openai_tokens(logprobs)

    def ends_generation(self, event: Mapping[str, Any]) -> bool:
        """``finish_reason`` is null until the last text event ("stop", "length")."""
        choices = event.get("choices")
        return isinstance(choices, list) and any(
            isinstance(choice, Mapping) and choice.get("finish_reason") for choice in choices
        )

    def reset_cache(self) -> None:
        """The API has no such request; comparisons from a cold cache need a fresh server."""


class ModelNameVocabulary:
    """All an OpenAI-compatible server tells of its model's vocabulary: the model's name."""

    def __init__(self, model: str) -> None:
        self.metadata: Mapping[str, str] = {"general.name": model}

    def token_text(self, token_id: int) -> str:
        return ""

    def is_single_token(self, text: str) -> bool:
        return False


def open_openai_completions(
    address: EngineAddress, model: str | None, template_setting: str | None
) -> tuple[HttpBackend, FimTemplate]:
    """Nothing is asked of the server when ``backendModel`` is set, so it may start later."""
    model = model or _first_served_model(address)
    template = load_template(template_setting) if template_setting else _template_named(model)
    # Base URLs are often given as OpenAI clients take them, ending in /v1.
    path = "/completions" if address.base_path.endswith("/v1") else "/v1/completions"
    api = OpenAICompletionsApi(path, model, template.bos)
    return HttpBackend(address, api, ModelNameVocabulary(model)), template


def _template_named(model: str) -> FimTemplate:
    try:
        return detect_template(ModelNameVocabulary(model))
    except NoFimSupportError as error:
        raise TemplateError(
            f"cannot tell the FIM template of model {model!r} from its name (an "
            "OpenAI-compatible server does not show the model's tokens): set `template` (or "
            f"pass --template) to one of {', '.join(template_names())}, or to the path of "
            "your own .toml template file"
        ) from error


def _first_served_model(address: EngineAddress) -> str:
    """``/v1/models``' first entry, for servers that serve one model (llama-server, most
    vLLM set-ups)."""
    path = "/models" if address.base_path.endswith("/v1") else "/v1/models"
    models = request_json(address, path).get("data")
    if not isinstance(models, list) or not models or not isinstance(models[0], Mapping):
        raise BackendError(
            f"{address.url(path)} lists no model: set `backendModel` (or --backend-model)"
        )
    model = field_text(models[0], "id")
    log.info("backendModel not set: using %r, the first model %s lists", model, address.url(path))
    return model


def _read_usage(usage: Mapping[str, Any], stats: GenerationStats) -> None:
    """Cached prompt tokens are reported by vLLM and llama-server as ``prompt_tokens_details``."""
    stats.prompt_tokens = int(field_number(usage, "prompt_tokens", stats.prompt_tokens))
    stats.generated_tokens = int(field_number(usage, "completion_tokens", stats.generated_tokens))
    details = usage.get("prompt_tokens_details")
    cached = field_number(details, "cached_tokens", 0) if isinstance(details, Mapping) else 0
    stats.prompt_tokens_evaluated = stats.prompt_tokens - int(cached)


def _openai_tokens(logprobs: Mapping[str, Any]) -> list[TokenLogprobs] | None:
    """OpenAI's form: ``tokens`` and ``token_logprobs`` side by side, and ``top_logprobs`` a
    ``{token: logprob}`` object per token (null allowed). None if any token does not read."""
    texts, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
    if not isinstance(texts, list) or not isinstance(values, list) or len(texts) != len(values):
        return None
    if not texts or len(texts) > MAX_EVENT_TOKENS:
        return None
    tops = logprobs.get("top_logprobs")
    tops = tops if isinstance(tops, list) and len(tops) == len(texts) else [None] * len(texts)
    tokens = []
    for raw_text, raw_logprob, top in zip(texts, values, tops, strict=True):
        text, logprob = token_text_from(raw_text), logprob_from(raw_logprob)
        if text is None or logprob is None:
            return None
        tokens.append(TokenLogprobs(text, logprob, _top_candidates(top)))
    return tokens


def _top_candidates(top: Any) -> tuple[tuple[str, float], ...]:
    """A token that is not whole UTF-8 is spelled ``bytes:\\xe2...`` by OpenAI and with U+FFFD
    by vLLM: neither can start a suggestion."""
    if not isinstance(top, Mapping):
        return ()
    candidates = []
    for raw_text, raw_logprob in itertools.islice(top.items(), MAX_CANDIDATES):
        text, logprob = token_text_from(raw_text), logprob_from(raw_logprob)
        if text is not None and logprob is not None and not text.startswith("bytes:"):
            candidates.append((text, logprob))
    return tuple(candidates)
