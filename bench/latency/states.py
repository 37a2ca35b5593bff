"""The document states at which the server answered, with the prompt it built for each: what
the baselines and the cold-cache check replay."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.latency.replay import Keystroke, ReplayResult
from bench.latency.trace import CORPUS_DIR, CorpusFile, TypedLine, evenly_sample
from lsp_fim.config import Settings
from lsp_fim.engine import CompletionEngine, CompletionRequest, load_engine, request_window
from lsp_fim.templates import FimTemplate


@dataclass(frozen=True)
class BenchState:
    """A document state at which the server answered, with the prompt the server would build."""

    file: str
    language_id: str
    text: str
    offset: int
    server_suggestion: str
    server_latency_ms: float
    server_from_cache: bool | None = None
    prefix: str = ""
    suffix: str = ""
    prompt: str = ""

    @property
    def path(self) -> str:
        return str(CORPUS_DIR / self.file)

    def request(self) -> CompletionRequest:
        return CompletionRequest(self.text, self.offset, self.language_id, self.path)


def sample_states(keystrokes: Sequence[Keystroke], count: int) -> list[BenchState]:
    answered = [k for k in keystrokes if k.answered]
    return [
        BenchState(
            k.file,
            k.language_id,
            k.text,
            k.offset,
            k.suggestion or "",
            k.latency_ms or 0.0,
            k.from_cache,
        )
        for k in evenly_sample(answered, count)
    ]


def with_prompts(
    states: Sequence[BenchState],
    settings: Settings,
    template: FimTemplate,
    count_tokens: Callable[[str], int],
) -> list[BenchState]:
    """The server's windows (``request_window``) and prompt for each state."""
    result = []
    for state in states:
        window = request_window(state.request(), settings, count_tokens)
        prompt = template.render(window.prefix, window.suffix, path=state.path)
        result.append(
            BenchState(
                **{
                    **asdict(state),
                    "prefix": window.prefix,
                    "suffix": window.suffix,
                    "prompt": prompt,
                }
            )
        )
    return result


class BenchRun:
    """The replay and what every later step shares: the server's engine, loaded here as
    ``load_engine`` loads it for the server (so its template and token counts are the
    server's), and the sampled states with their prompts."""

    def __init__(
        self,
        args: argparse.Namespace,
        model: Path,
        settings: Settings,
        files: Sequence[CorpusFile],
        trace: dict[str, list[TypedLine]],
        replay: ReplayResult,
    ) -> None:
        self.args, self.model, self.settings = args, model, settings
        self.files, self.trace, self.replay = files, trace, replay
        self.engine: CompletionEngine = load_engine(settings)
        self.template = self.engine.template
        self.count_tokens = self.engine.backend.count_tokens
        sampled = sample_states(replay.keystrokes, args.baseline_states)
        self.states = with_prompts(sampled, settings, self.template, self.count_tokens)
