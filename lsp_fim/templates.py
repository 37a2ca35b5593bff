"""FIM prompt formats per model family, read from the TOML files shipped in ``templates/``.

Each family's file says how to lay out a prompt, which texts end generation, which texts must
never reach the user, and how to recognise the family in a model's vocabulary. Keeping this as
data means a new model family is a new file, not new code, and users can point the
``template`` setting at a file of their own.

A prompt is rendered as pieces that say which text is the template's own marker (a special
token) and which is text: the document, file names and snippets are the user's, and a
document that contains ``<|fim_middle|>`` must not end the prefix there. Backends that
tokenize parse special tokens in the markers only.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from lsp_fim.prompt import ContextFile, PromptPiece
from lsp_fim.toml_data import DataTable

if TYPE_CHECKING:
    from lsp_fim.backends.base import Vocabulary

# The top-level templates/ folder, installed as a data package. It cannot be named
# lsp_fim.templates: that name is this module, and a package of the same name would hide it.
_TEMPLATE_PACKAGE = "lsp_fim.template_data"

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

# GGUF keys that name the FIM token ids; the second of each pair is the older spelling that
# many published GGUFs (CodeLlama, CodeGemma, Codestral) still carry.
_FIM_ID_KEYS = {
    "prefix": ("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"),
    "suffix": ("tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"),
    "middle": ("tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"),
}
_MODEL_NAME_KEYS = ("general.name", "general.basename")
# Templates are a few hundred bytes; anything this large is not one, and is not read whole.
MAX_TEMPLATE_BYTES = 64 * 1024
# Opening a fifo for reading waits for a writer, and a terminal could become ours, without these.
_NO_WAIT = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


class TemplateError(ValueError):
    """A template that cannot be used; the message names the file and what to fix."""


class NoFimSupportError(TemplateError):
    """The model shows no FIM tokens that any shipped template knows."""


@dataclass(frozen=True)
class TextPattern:
    """A text with ``{name}`` holes, split once at load time.

    Filling joins the pieces instead of substituting into the text, so braces in the code
    being completed (``{prefix}`` included) are never read as placeholders.
    """

    pieces: tuple[str, ...]  # literal text at even indices, placeholder names at odd ones

    def fill(self, markers: re.Pattern[str], **values: str) -> list[PromptPiece]:
        """The literal text split at ``markers``; every value is text, whatever it holds."""
        filled: list[PromptPiece] = []
        for index, piece in enumerate(self.pieces):
            if index % 2:
                filled.append(PromptPiece(values[piece], marker=False))
                continue
            for part_index, part in enumerate(markers.split(piece)):
                filled.append(PromptPiece(part, marker=bool(part_index % 2)))
        return filled

    def uses(self, text: str) -> bool:
        """Whether ``text`` is part of the pattern's own literal text."""
        return any(text in literal for literal in self.pieces[::2])


@dataclass(frozen=True)
class RepoForm:
    """The multi-file layout: repository header, one block per context file, then the FIM part."""

    header: TextPattern
    file: TextPattern
    fim: TextPattern

    def render(
        self,
        markers: re.Pattern[str],
        prefix: str,
        suffix: str,
        path: str,
        repo: str | None,
        extra_files: Sequence[ContextFile],
    ) -> list[PromptPiece]:
        """The header is left out without a repository name rather than invented."""
        pieces = [] if repo is None else self.header.fill(markers, repo=repo)
        for file in extra_files:
            pieces += self.file.fill(markers, path=file.path, text=file.text)
        return pieces + self.fim.fill(markers, path=path, prefix=prefix, suffix=suffix)


@dataclass(frozen=True)
class Detection:
    """How a family shows in a vocabulary: its FIM token texts, tokens that set it apart from
    families sharing those texts, and substrings of its GGUF model names (normalized)."""

    fim_tokens: tuple[tuple[str, str], ...]  # (role, token text); roles: prefix, suffix, middle
    distinguishing_tokens: tuple[str, ...]
    name_patterns: tuple[str, ...]
    # True: the prompt ends in the prefix, so the token cut at the cursor must be healed; only
    # a backend that heals may use it, and detection prefers it for such a backend.
    needs_healing: bool = False

    def matches_declared(self, declared: Mapping[str, str]) -> bool:
        """Whether the FIM tokens a GGUF declares are this family's.

        A role only one side knows is not held against the match: Codestral GGUFs declare no
        middle token, and other GGUFs declare one that a template does not need.
        """
        return {"prefix", "suffix"} <= declared.keys() and all(
            declared.get(role, text) == text for role, text in self.fim_tokens
        )

    def in_vocabulary(self, vocab: Vocabulary) -> bool:
        return all(vocab.is_single_token(text) for _, text in self.fim_tokens)

    def distinguished_in(self, vocab: Vocabulary) -> bool:
        return all(vocab.is_single_token(text) for text in self.distinguishing_tokens)

    def name_score(self, model_names: Sequence[str]) -> int:
        """Length of the longest pattern found, so "starcoder2" outranks "starcoder"."""
        found = (p for p in self.name_patterns if any(p in name for name in model_names))
        return max(map(len, found), default=0)


@dataclass(frozen=True)
class FimTemplate:
    """One family's prompt layout and the texts around it.

    ``special_tokens`` is ordered longest first, so that removing them one after another never
    leaves part of a longer one behind (``▁<EOT>`` before ``<EOT>``).
    """

    name: str
    description: str
    stop: tuple[str, ...]
    special_tokens: tuple[str, ...]
    bos: str
    format: TextPattern
    repo_form: RepoForm | None
    detection: Detection

    def render(
        self,
        prefix: str,
        suffix: str,
        *,
        path: str | None = None,
        repo: str | None = None,
        extra_files: Sequence[ContextFile] = (),
    ) -> str:
        """The prompt text, BOS included: :meth:`render_pieces` joined."""
        pieces = self.render_pieces(prefix, suffix, path=path, repo=repo, extra_files=extra_files)
        return "".join(piece.text for piece in pieces)

    def render_pieces(
        self,
        prefix: str,
        suffix: str,
        *,
        path: str | None = None,
        repo: str | None = None,
        extra_files: Sequence[ContextFile] = (),
    ) -> tuple[PromptPiece, ...]:
        """The prompt as markers and text, BOS included (a backend tokenizes it as is, adding
        nothing).

        Neighbouring text is joined into one piece, the template's own included (the newline
        after a path): a tokenizer that parses special tokens tokenizes the text between two of them
        in one go, and tokens must not change where user text meets template text.

        The repository form needs the family to have one, context files, and the current
        file's path; otherwise the plain FIM prompt is used and ``extra_files`` are left out.
        """
        pieces = [PromptPiece(self.bos, marker=True)]
        if self.repo_form is None or not extra_files or path is None:
            pieces += self.format.fill(self._markers, prefix=prefix, suffix=suffix)
        else:
            pieces += self.repo_form.render(self._markers, prefix, suffix, path, repo, extra_files)
        return _joined(pieces)

    @cached_property
    def _markers(self) -> re.Pattern[str]:
        """The special tokens and BOS, longest first, as one capturing pattern to split at."""
        texts = sorted({*self.special_tokens, self.bos} - {""}, key=len, reverse=True)
        return re.compile("(" + "|".join(map(re.escape, texts)) + ")")


def _joined(pieces: Sequence[PromptPiece]) -> tuple[PromptPiece, ...]:
    """Empty pieces dropped, neighbouring text pieces joined."""
    joined: list[PromptPiece] = []
    for piece in pieces:
        if not piece.text:
            continue
        if joined and not piece.marker and not joined[-1].marker:
            joined[-1] = PromptPiece(joined[-1].text + piece.text, marker=False)
        else:
            joined.append(piece)
    return tuple(joined)


def template_names() -> list[str]:
    """Names of the shipped templates, each the stem of its ``.toml`` file."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in files(_TEMPLATE_PACKAGE).iterdir()
        if entry.name.endswith(".toml")
    )


def load_template(name_or_path: str) -> FimTemplate:
    """A shipped template by name, or the template in a ``.toml`` file at that path."""
    if name_or_path in template_names():
        return _load_shipped(name_or_path)
    path = Path(name_or_path).expanduser()
    if path.suffix != ".toml":
        raise TemplateError(
            f"unknown FIM template {name_or_path!r}: use one of {', '.join(template_names())} "
            "or the path of a .toml template file"
        )
    return _parse(_read_template_file(path), str(path))


def _read_template_file(path: Path) -> str:
    """The file's text, if it is a regular file of template size.

    Anything else is refused before it is read, and read without waiting: ``/dev/stdin``
    would take the editor's LSP messages, a fifo would block the server forever, a device
    would never end. The file is checked again once open, in case it was swapped meanwhile.
    """
    try:
        _check_template_file(path, os.stat(path))
        descriptor = os.open(path, os.O_RDONLY | _NO_WAIT)
    except OSError as error:
        raise TemplateError(f"{path}: cannot read the template: {error}") from error
    with os.fdopen(descriptor, "rb") as file:
        _check_template_file(path, os.fstat(descriptor))
        data = file.read(MAX_TEMPLATE_BYTES + 1)
    _check_template_size(path, len(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TemplateError(f"{path}: cannot read the template: {error}") from error


def _check_template_file(path: Path, status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise TemplateError(
            f"{path}: not a regular file (a directory, device or pipe): `template` takes a "
            "template name or the path of a .toml template file"
        )
    _check_template_size(path, status.st_size)


def _check_template_size(path: Path, size: int) -> None:
    if size > MAX_TEMPLATE_BYTES:
        raise TemplateError(
            f"{path}: larger than {MAX_TEMPLATE_BYTES // 1024} KiB, too large for a template"
        )


def detect_template(vocab: Vocabulary, *, heals: bool = False) -> FimTemplate:
    """The shipped template for this model, judged from its vocabulary and metadata.

    Order of evidence: the FIM token ids the GGUF declares, then which FIM texts are single
    tokens, then the model's name. Families sharing FIM texts are told apart by their
    distinguishing tokens, then by name. A backend that ``heals`` the token cut at the cursor
    gets a family's layout that needs healing where it has one (suffix first: typing only
    appends to the prompt, and it scored higher on every quality set but one); others never do.
    """
    templates = [t for t in _shipped_templates() if heals or not t.detection.needs_healing]
    model_names = _model_names(vocab.metadata)
    declared = _declared_fim_tokens(vocab)
    candidates = [t for t in templates if t.detection.matches_declared(declared)]
    if not candidates:
        candidates = [t for t in templates if t.detection.in_vocabulary(vocab)]
    if candidates:
        return _most_fitting(candidates, vocab, model_names)
    named = [t for t in templates if t.detection.name_score(model_names)]
    if named:
        return max(named, key=lambda t: t.detection.name_score(model_names))
    raise NoFimSupportError(_no_fim_message(vocab.metadata))


def _most_fitting(
    candidates: Sequence[FimTemplate], vocab: Vocabulary, model_names: Sequence[str]
) -> FimTemplate:
    """Distinguishing tokens rule families out; the name, then specificity, picks among the rest.

    When no candidate's distinguishing tokens are all present, all stay in the running: the
    FIM tokens matched, which is better evidence than none.
    """
    fitting = [t for t in candidates if t.detection.distinguished_in(vocab)] or list(candidates)
    return max(
        fitting,
        key=lambda t: (
            t.detection.name_score(model_names),
            len(t.detection.distinguishing_tokens),
            t.detection.needs_healing,
        ),
    )


def _declared_fim_tokens(vocab: Vocabulary) -> dict[str, str]:
    declared: dict[str, str] = {}
    for role, keys in _FIM_ID_KEYS.items():
        token_id = next((vocab.metadata[key] for key in keys if key in vocab.metadata), None)
        if token_id is not None and token_id.strip().isdigit():  # absent ids are stored as -1
            declared[role] = vocab.token_text(int(token_id))
    return declared


def _model_names(metadata: Mapping[str, str]) -> list[str]:
    return [_normalized_name(metadata[key]) for key in _MODEL_NAME_KEYS if metadata.get(key)]


def _normalized_name(name: str) -> str:
    """So that "Qwen2.5 Coder", "qwen2.5_coder" and "Qwen2.5-Coder" all read "qwen2.5-coder"."""
    return re.sub(r"[\s_-]+", "-", name.strip().lower())


def _no_fim_message(metadata: Mapping[str, str]) -> str:
    model = next((metadata[key] for key in _MODEL_NAME_KEYS if metadata.get(key)), None)
    label = f"model {model!r}" if model else "this model"
    return (
        f"{label} has no fill-in-the-middle tokens that lsp-fim knows, so it cannot complete code "
        "between a prefix and a suffix. If it was trained for FIM, choose its template yourself: "
        f"set `template` (or pass --template) to one of {', '.join(template_names())}, "
        "or to the path of your own .toml template file"
    )


@cache
def _shipped_templates() -> tuple[FimTemplate, ...]:
    return tuple(_load_shipped(name) for name in template_names())


def _load_shipped(name: str) -> FimTemplate:
    resource = files(_TEMPLATE_PACKAGE) / f"{name}.toml"
    return _parse(resource.read_text(encoding="utf-8"), f"templates/{name}.toml")


def _text_pattern(table: DataTable, key: str, placeholders: AbstractSet[str]) -> TextPattern:
    """Every placeholder a field allows is also required, exactly once."""
    pieces = tuple(_PLACEHOLDER.split(table.text(key)))
    names = pieces[1::2]
    allowed = ", ".join(f"{{{name}}}" for name in sorted(placeholders))
    for name in names:
        if name not in placeholders:
            raise table.error(key, f"has unknown placeholder {{{name}}} (allowed: {allowed})")
    for name in sorted(placeholders):
        if names.count(name) != 1:
            raise table.error(key, f"must contain {{{name}}} exactly once")
    return TextPattern(pieces)


def _parse(text: str, source: str) -> FimTemplate:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TemplateError(f"{source}: not valid TOML: {error}") from error
    top = DataTable(data, source, TemplateError)
    top.expect_keys(
        {"name", "description", "format", "stop", "special_tokens", "detect"}, {"bos", "repo"}
    )
    prompt_format = _text_pattern(top, "format", {"prefix", "suffix"})
    special_tokens = top.texts("special_tokens", non_empty=True)
    detection = _parse_detection(top.table("detect"), prompt_format)
    for _, token in detection.fim_tokens:
        if token not in special_tokens:
            raise top.error("special_tokens", f"must include the FIM token {token!r}")
    return FimTemplate(
        name=top.text("name"),
        description=top.text("description"),
        stop=top.texts("stop", non_empty=True),
        special_tokens=tuple(sorted(special_tokens, key=len, reverse=True)),
        bos=top.optional_text("bos"),
        format=prompt_format,
        repo_form=_parse_repo_form(top.table("repo")) if "repo" in data else None,
        detection=detection,
    )


def _parse_repo_form(repo: DataTable) -> RepoForm:
    repo.expect_keys({"header", "file", "fim"})
    return RepoForm(
        header=_text_pattern(repo, "header", {"repo"}),
        file=_text_pattern(repo, "file", {"path", "text"}),
        fim=_text_pattern(repo, "fim", {"path", "prefix", "suffix"}),
    )


def _parse_detection(detect: DataTable, prompt_format: TextPattern) -> Detection:
    """FIM tokens must appear in ``format``: detection and layout must describe one family."""
    detect.expect_keys({"fim_tokens"}, {"distinguishing_tokens", "name_patterns", "needs_healing"})
    tokens = detect.table("fim_tokens")
    tokens.expect_keys({"prefix", "suffix"}, {"middle"})
    fim_tokens = tuple((role, tokens.text(role)) for role in _FIM_ID_KEYS if role in tokens.data)
    for role, token in fim_tokens:
        if not prompt_format.uses(token):
            raise tokens.error(role, f"is {token!r}, which `format` does not use")
    return Detection(
        fim_tokens=fim_tokens,
        distinguishing_tokens=detect.texts("distinguishing_tokens"),
        name_patterns=tuple(_normalized_name(p) for p in detect.texts("name_patterns")),
        needs_healing=detect.flag("needs_healing"),
    )
