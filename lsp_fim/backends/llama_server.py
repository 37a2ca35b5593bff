"""llama.cpp's llama-server: ``/infill``, where the server lays out the FIM prompt from the
prefix and suffix, or ``/completion``, which takes the prompt our template renders.

``/infill`` is used unless the ``template`` setting names a format: llama-server lays out
``/infill`` prompts with the model's own FIM tokens only (and its repository form, with the
project called ``myproject``), so a chosen template can only be honoured by ``/completion``.
A model without FIM tokens is refused by ``/infill`` (HTTP 501, said in the log); setting
``template`` moves such a model to ``/completion``.

User text never becomes a special token: llama-server tokenizes ``/infill``'s prefix, suffix
and extra files as text and adds the FIM tokens itself by id, and ``/completion`` gets token ids
only (see :class:`CompletionApi`).

Generation is greedy and streamed, with the server's prompt cache on (``cache_prompt``) and
its timings in every event (``timings_per_token``), so that a stream cut short by the scope
stop still reports what the prompt cost. Every event also brings its token's log-probability
and the likeliest others (``n_probs``), for the suggestion's confidence and its alternatives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from lsp_fim.backends.base import RUNNERS_UP, BackendError, FimPrompt, GenerationStats
from lsp_fim.backends.http_backend import (
    MAX_CANDIDATES,
    MAX_EVENT_TOKENS,
    MAX_TOKEN_CHARS,
    HttpBackend,
    Request,
    TokenLogprobs,
    logprob_from,
    token_text_from,
)
from lsp_fim.backends.http_stream import EngineAddress, field_number, field_text, request_json
from lsp_fim.prompt import PromptPiece
from lsp_fim.templates import FimTemplate, detect_template, load_template

INFILL_PATH = "/infill"
COMPLETION_PATH = "/completion"


class LlamaServerApi(ABC):
    """What ``/infill`` and ``/completion`` share: sampling, the cache, the events."""

    path: str

    def __init__(self) -> None:
        self._cold = False

    @abstractmethod
    def prompt_fields(self, prompt: FimPrompt) -> dict[str, Any]:
        """The request fields that carry the prompt."""

    def generation(self, prompt: FimPrompt, max_tokens: int, stop: tuple[str, ...]) -> Request:
        cache_prompt, self._cold = not self._cold, False
        body = {
            **self.prompt_fields(prompt),
            "n_predict": max_tokens,
            "stop": list(stop),
            "temperature": 0,
            "stream": True,
            "cache_prompt": cache_prompt,
            "timings_per_token": True,
            "n_probs": RUNNERS_UP + 1,  # the chosen token is one of them
        }
        return self.path, body

    def warm_up(self, prompt: FimPrompt) -> Request:
        """``n_predict: 0``, as llama.vim sends: the prompt is evaluated and cached (the server
        still samples one token, which is dropped)."""
        return self.generation(prompt, 0, ())

    def read_event(self, event: Mapping[str, Any], stats: GenerationStats) -> str:
        read_counts(event, stats)
        return field_text(event, "content")

    def read_tokens(self, event: Mapping[str, Any]) -> list[TokenLogprobs] | None:
        return read_token_entries(event.get("completion_probabilities"))

    def ends_generation(self, event: Mapping[str, Any]) -> bool:
        return event.get("stop") is True

    def reset_cache(self) -> None:
        """The next request does not reuse the slot's cached prompt (and replaces it)."""
        self._cold = True


class InfillApi(LlamaServerApi):
    path = INFILL_PATH

    def __init__(self, address: EngineAddress) -> None:
        super().__init__()
        self._address = address

    def prompt_fields(self, prompt: FimPrompt) -> dict[str, Any]:
        """All of the cursor's line before it goes in the prefix, so that the prefix is
        tokenized in one piece as our own prompts are. A suggestion's given start goes in
        ``prompt``, which llama-server tokenizes on its own and puts right after the prefix
        (its README says after the FIM middle token; its code, and the ``prompt`` it echoes,
        put it before the suffix): the model goes on after it, as after the start's own
        piece in our prompts. llama-server parses special tokens in that text (and takes no
        token ids there), so a start that holds one goes at the end of the prefix instead."""
        prefix, start = prompt.prefix, prompt.started
        if start and not self._plain_text(start):
            prefix, start = prefix + start, ""
        return {
            "input_prefix": prefix,
            "input_suffix": prompt.suffix,
            "input_extra": [{"filename": f.path, "text": f.text} for f in prompt.extra_files],
            "prompt": start,
        }

    def _plain_text(self, text: str) -> bool:
        """Whether ``text`` has the same tokens with special tokens parsed as without."""
        parsed = tokenize(self._address, text, add_special=False, parse_special=True)
        return parsed == tokenize(self._address, text, add_special=False, parse_special=False)


class CompletionApi(LlamaServerApi):
    """``/completion`` with our template's prompt, sent as token ids.

    llama-server parses special tokens in every text of a ``/completion`` prompt, texts in a
    mixed list of ids and texts included; only ids are taken as they are. Its ``/tokenize``
    has a switch for that: the markers are tokenized once with special tokens parsed, and each
    prompt's text without, the markers given as their ids. That costs a round trip per prompt.
    """

    path = COMPLETION_PATH

    def __init__(self, address: EngineAddress, bos: str) -> None:
        super().__init__()
        self._address = address
        self._bos = bos
        self._marker_ids: dict[str, list[int]] = {}

    def prompt_fields(self, prompt: FimPrompt) -> dict[str, Any]:
        return {"prompt": self._token_ids(prompt.pieces)}

    def _token_ids(self, pieces: Sequence[PromptPiece]) -> list[int]:
        """The template's BOS gives way to the empty text in front, where the server puts the
        model's BOS, if the model wants one, as it would in front of a prompt sent as text."""
        if pieces and pieces[0] == PromptPiece(self._bos, marker=True):
            pieces = pieces[1:]
        content: list[str | int] = [""]
        for piece in pieces:
            content += self._marker(piece.text) if piece.marker else [piece.text]
        return tokenize(self._address, content, add_special=True, parse_special=False)

    def _marker(self, text: str) -> list[int]:
        if text not in self._marker_ids:
            ids = tokenize(self._address, text, add_special=False, parse_special=True)
            self._marker_ids[text] = ids
        return self._marker_ids[text]


def tokenize(
    address: EngineAddress,
    content: str | list[str | int],
    *,
    add_special: bool,
    parse_special: bool,
) -> list[int]:
    """llama-server's ``/tokenize``: ``content`` is a text, or texts and token ids mixed (the ids
    kept as they are, the texts tokenized; ``add_special`` adds BOS before a first text)."""
    body = {"content": content, "add_special": add_special, "parse_special": parse_special}
    tokens = request_json(address, "/tokenize", body).get("tokens")
    if not isinstance(tokens, list) or not all(
        isinstance(token, int) and not isinstance(token, bool) for token in tokens
    ):
        raise BackendError(f"{address.url('/tokenize')}: malformed answer: tokens are not ids")
    return tokens


def read_counts(event: Mapping[str, Any], stats: GenerationStats) -> None:
    """llama-server's numbers: ``tokens_evaluated`` is the whole prompt, ``timings.prompt_n``
    the part evaluated (the rest came from the cache)."""
    stats.prompt_tokens = int(field_number(event, "tokens_evaluated", stats.prompt_tokens))
    stats.generated_tokens = int(field_number(event, "tokens_predicted", stats.generated_tokens))
    read_timings(event.get("timings"), stats)


def read_token_entries(entries: Any) -> list[TokenLogprobs] | None:
    """llama-server's token probabilities (``completion_probabilities`` in its own API,
    ``logprobs.content`` in its OpenAI-compatible one): per token ``id``, ``token``,
    ``bytes``, ``logprob`` and ``top_logprobs``, a list of the same. None if any token does not
    read (older builds sent ``probs`` with probabilities instead), and past
    ``MAX_EVENT_TOKENS``."""
    if not isinstance(entries, list) or not entries or len(entries) > MAX_EVENT_TOKENS:
        return None
    tokens = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            return None
        text, logprob = _entry_text(entry, whole=False), logprob_from(entry.get("logprob"))
        if text is None or logprob is None:
            return None
        tokens.append(TokenLogprobs(text, logprob, _candidates(entry)))
    return tokens


def _candidates(entry: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    """The ``top_logprobs`` that read, the chosen token (by id) left out."""
    top = entry.get("top_logprobs")
    if not isinstance(top, list):
        return ()
    chosen = entry.get("id")
    candidates = []
    for candidate in top[:MAX_CANDIDATES]:
        if not isinstance(candidate, Mapping):
            continue
        if isinstance(chosen, int) and candidate.get("id") == chosen:
            continue
        text, logprob = _entry_text(candidate, whole=True), logprob_from(candidate.get("logprob"))
        if text is not None and logprob is not None:
            candidates.append((text, logprob))
    return tuple(candidates)


def _entry_text(entry: Mapping[str, Any], whole: bool) -> str | None:
    """A token's text, from its ``bytes`` where they are whole UTF-8 (``token`` is cut to whole
    characters). Where they are not, a ``whole`` text is none: that token is part of a
    character, which no suggestion can start with."""
    raw = entry.get("bytes")
    if (
        isinstance(raw, list)
        and len(raw) <= 4 * MAX_TOKEN_CHARS
        and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in raw)
    ):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            if whole:
                return None
    return token_text_from(entry.get("token"))


def read_timings(timings: Any, stats: GenerationStats) -> None:
    """``timings`` as llama-server sends it (also in its OpenAI-compatible answers)."""
    if not isinstance(timings, Mapping):
        return
    evaluated = field_number(timings, "prompt_n", stats.prompt_tokens_evaluated)
    stats.prompt_tokens_evaluated = int(evaluated)
    stats.generated_tokens = int(field_number(timings, "predicted_n", stats.generated_tokens))
    stats.prompt_ms = field_number(timings, "prompt_ms", stats.prompt_ms)
    stats.generate_ms = field_number(timings, "predicted_ms", stats.generate_ms)


class LlamaServerVocabulary:
    """The model's vocabulary as llama-server shows it, asked only when template detection
    needs it: ``/tokenize`` with special tokens parsed, ``/detokenize``, and the model file's
    name from ``/props`` (the server does not serve GGUF metadata)."""

    def __init__(self, address: EngineAddress) -> None:
        self._address = address
        self._metadata: dict[str, str] | None = None
        self._single: dict[str, bool] = {}

    @property
    def metadata(self) -> Mapping[str, str]:
        if self._metadata is None:
            props = request_json(self._address, "/props")
            model = props.get("model_path") or props.get("model_alias") or ""
            name = PurePath(str(model)).name.removesuffix(".gguf")
            self._metadata = {"general.name": name} if name else {}
        return self._metadata

    def token_text(self, token_id: int) -> str:
        answer = request_json(self._address, "/detokenize", {"tokens": [token_id]})
        return field_text(answer, "content")

    def is_single_token(self, text: str) -> bool:
        if text not in self._single:
            tokens = tokenize(self._address, text, add_special=False, parse_special=True)
            self._single[text] = len(tokens) == 1
        return self._single[text]


def open_llama_server(
    address: EngineAddress, template_setting: str | None
) -> tuple[HttpBackend, FimTemplate]:
    """With ``template`` set nothing is asked of the server now, so it may start later; else
    the template is detected from the server's vocabulary (for stop strings and clean-up)."""
    vocabulary = LlamaServerVocabulary(address)
    if template_setting:
        template = load_template(template_setting)
        return HttpBackend(address, CompletionApi(address, template.bos), vocabulary), template
    try:
        template = detect_template(vocabulary)
    except BackendError as error:
        raise BackendError(
            f"{error} (lsp-fim asks llama-server for the model's FIM template when it starts: "
            "start llama-server first, or set `template`, which uses /completion)"
        ) from error
    return HttpBackend(address, InfillApi(address), vocabulary), template
