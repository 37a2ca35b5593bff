"""FIM templates: exact prompts per family, validation of template files, model detection."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lsp_fim.backends.llama_cpp import LlamaVocabulary
from lsp_fim.templates import (
    MAX_TEMPLATE_BYTES,
    ContextFile,
    NoFimSupportError,
    PromptPiece,
    TemplateError,
    detect_template,
    load_template,
    template_names,
)

PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"

# DeepSeek's tokens use U+FF5C (fullwidth bar) and U+2581 (SentencePiece word mark); spelled
# with escapes here so that a look-alike character in the template file cannot pass.
DS_BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
DS_EOS = "<\uff5cend\u2581of\u2581sentence\uff5c>"
DS_BEGIN = "<\uff5cfim\u2581begin\uff5c>"
DS_HOLE = "<\uff5cfim\u2581hole\uff5c>"
DS_END = "<\uff5cfim\u2581end\uff5c>"
SP = "\u2581"

SHIPPED = {
    "codegemma",
    "codellama",
    "codestral",
    "deepseek-coder",
    "granite-code",
    "qwen2.5-coder",
    "qwen2.5-coder-suffix-first",
    "santacoder",
    "starcoder",
    "starcoder2",
}


def test_every_expected_family_is_shipped_and_loads_under_its_file_name() -> None:
    assert set(template_names()) == SHIPPED
    for name in template_names():
        template = load_template(name)
        assert template.name == name
        assert template.description
        assert template.stop


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qwen2.5-coder", f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"),
        (
            "qwen2.5-coder-suffix-first",
            f"<|fim_prefix|><|fim_suffix|>{SUFFIX}<|fim_middle|>{PREFIX}",
        ),
        ("codegemma", f"<bos><|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"),
        ("deepseek-coder", f"{DS_BOS}{DS_BEGIN}{PREFIX}{DS_HOLE}{SUFFIX}{DS_END}"),
        ("starcoder", f"<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>"),
        ("starcoder2", f"<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>"),
        ("granite-code", f"<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>"),
        ("santacoder", f"<fim-prefix>{PREFIX}<fim-suffix>{SUFFIX}<fim-middle>"),
        ("codellama", f"<s>{SP}<PRE>{PREFIX}{SP}<SUF>{SUFFIX}{SP}<MID>"),
        ("codestral", f"<s>[SUFFIX]{SUFFIX}[PREFIX]{PREFIX}"),
    ],
)
def test_plain_prompt_is_exact(name: str, expected: str) -> None:
    assert load_template(name).render(PREFIX, SUFFIX, path="src/add.py") == expected


CONTEXT = (ContextFile("lib/util.py", "def helper():\n    pass\n"), ContextFile("README.md", "# r"))


def test_qwen_repository_form_follows_the_readme() -> None:
    prompt = load_template("qwen2.5-coder").render(
        PREFIX, SUFFIX, path="src/add.py", repo="calc", extra_files=CONTEXT
    )
    assert prompt == (
        "<|repo_name|>calc\n"
        "<|file_sep|>lib/util.py\ndef helper():\n    pass\n\n"
        "<|file_sep|>README.md\n# r\n"
        f"<|file_sep|>src/add.py\n<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"
    )


def test_starcoder2_repository_form_puts_the_path_inside_the_fim_prefix() -> None:
    prompt = load_template("starcoder2").render(
        PREFIX, SUFFIX, path="src/add.py", repo="calc", extra_files=CONTEXT
    )
    assert prompt == (
        "<repo_name>calc"
        "<file_sep>lib/util.py\ndef helper():\n    pass\n"
        "<file_sep>README.md\n# r"
        f"<file_sep><fim_prefix>src/add.py\n{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>"
    )


def test_repository_form_without_a_repository_name_leaves_the_header_out() -> None:
    prompt = load_template("qwen2.5-coder").render(
        PREFIX, SUFFIX, path="src/add.py", extra_files=CONTEXT[:1]
    )
    assert prompt.startswith("<|file_sep|>lib/util.py\n")
    assert "<|repo_name|>" not in prompt


@pytest.mark.parametrize(
    "name", sorted(SHIPPED - {"qwen2.5-coder", "qwen2.5-coder-suffix-first", "starcoder2"})
)
def test_families_without_a_repository_form_leave_context_files_out(name: str) -> None:
    template = load_template(name)
    with_context = template.render(PREFIX, SUFFIX, path="a.py", repo="r", extra_files=CONTEXT)
    assert with_context == template.render(PREFIX, SUFFIX)


def test_repository_form_needs_the_current_path() -> None:
    template = load_template("qwen2.5-coder")
    assert template.render(PREFIX, SUFFIX, repo="r", extra_files=CONTEXT) == template.render(
        PREFIX, SUFFIX
    )


def test_braces_in_code_are_never_read_as_placeholders() -> None:
    prompt = load_template("qwen2.5-coder").render("f'{prefix}{suffix}'", "{text}{path}")
    assert prompt == "<|fim_prefix|>f'{prefix}{suffix}'<|fim_suffix|>{text}{path}<|fim_middle|>"


def test_special_tokens_come_longest_first_so_removal_leaves_no_fragments() -> None:
    tokens = load_template("codellama").special_tokens
    assert tokens.index(f"{SP}<EOT>") < tokens.index("<EOT>")
    assert [len(t) for t in tokens] == sorted((len(t) for t in tokens), reverse=True)


def test_qwen_is_prefix_suffix_middle_only() -> None:
    prompt = load_template("qwen2.5-coder").render("P", "S")
    assert prompt.index("P") < prompt.index("S") < prompt.index("<|fim_middle|>")


# --- pieces: which text is the template's marker, which is text --------------------------


def test_pieces_mark_the_template_tokens_and_keep_user_text_whole() -> None:
    pieces = load_template("qwen2.5-coder").render_pieces(
        "x = '<|fim_middle|>'", "<|endoftext|>", path="<|file_sep|>.py", extra_files=CONTEXT[:1]
    )
    assert pieces == (
        PromptPiece("<|file_sep|>", marker=True),
        PromptPiece("lib/util.py\ndef helper():\n    pass\n\n", marker=False),
        PromptPiece("<|file_sep|>", marker=True),
        PromptPiece("<|file_sep|>.py\n", marker=False),
        PromptPiece("<|fim_prefix|>", marker=True),
        PromptPiece("x = '<|fim_middle|>'", marker=False),
        PromptPiece("<|fim_suffix|>", marker=True),
        PromptPiece("<|endoftext|>", marker=False),
        PromptPiece("<|fim_middle|>", marker=True),
    )


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_all_template_text_but_whitespace_is_a_marker(name: str) -> None:
    """Else a tokenizer would see a special token in template text that the pieces call text,
    and prompts would tokenize differently from the whole text with special tokens parsed."""
    template = load_template(name)
    values = {"P0", "S0", "p0.py", "r0", "f0.py", "t0"}
    pieces = template.render_pieces(
        "P0", "S0", path="p0.py", repo="r0", extra_files=(ContextFile("f0.py", "t0"),)
    )
    assert "".join(piece.text for piece in pieces) == template.render(
        "P0", "S0", path="p0.py", repo="r0", extra_files=(ContextFile("f0.py", "t0"),)
    )
    for piece in pieces:
        if piece.marker:
            assert piece.text in {*template.special_tokens, template.bos}
            continue
        rest = piece.text
        for value in values:
            rest = rest.replace(value, "")
        assert not rest.strip(), piece


def test_braces_and_markers_in_code_are_text_pieces() -> None:
    pieces = load_template("codellama").render_pieces("{prefix}<s>", f"{SP}<MID>")
    assert [piece.text for piece in pieces if not piece.marker] == ["{prefix}<s>", f"{SP}<MID>"]
    assert pieces[0] == PromptPiece("<s>", marker=True)


# --- validation -----------------------------------------------------------------------------

VALID = """
name = "mine"
description = "test family"
format = "<pre>{prefix}<suf>{suffix}<mid>"
stop = ["<end>"]
special_tokens = ["<pre>", "<suf>", "<mid>", "<end>"]

[detect]
fim_tokens = { prefix = "<pre>", suffix = "<suf>", middle = "<mid>" }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_loads_from_its_path(tmp_path: Path) -> None:
    template = load_template(str(_write(tmp_path, VALID)))
    assert template.render("a", "b") == "<pre>a<suf>b<mid>"
    assert template.stop == ("<end>",)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda t: t.replace('name = "mine"\n', ""), "`name` is missing"),
        (lambda t: t + 'colour = "red"\n', "`detect.colour` is not a known key"),
        (lambda t: 'colour = "red"\n' + t, "`colour` is not a known key"),
        (lambda t: t.replace("<suf>{suffix}", "<suf>"), "`format` must contain {suffix}"),
        (lambda t: t.replace("{prefix}", "{prefix}{prefix}"), "{prefix} exactly once"),
        (lambda t: t.replace("<mid>", "{middle}<mid>", 1), "unknown placeholder {middle}"),
        (lambda t: t.replace('stop = ["<end>"]', 'stop = "<end>"'), "`stop` must be a list"),
        (lambda t: t.replace('stop = ["<end>"]', "stop = []"), "`stop` must not be empty"),
        (lambda t: t.replace('description = "test family"', "description = 3"), "non-empty"),
        (lambda t: t.replace('prefix = "<pre>", ', ""), "`detect.fim_tokens.prefix` is missing"),
        (lambda t: t.replace('middle = "<mid>"', 'middle = "<m>"'), "`format` does not use"),
        (lambda t: t.replace('"<pre>", "<suf>"', '"<suf>"'), "must include the FIM token '<pre>'"),
        (lambda t: t.replace("[detect]", "[detect\n"), "not valid TOML"),
        (lambda t: t + '[repo]\nheader = "{repo}"\nfile = "{text}"\nfim = "x"\n', "{path}"),
        (lambda t: 'bos = ["<s>"]\n' + t, "`bos` must be a string"),
        (lambda t: t + "needs_healing = 1\n", "`detect.needs_healing` must be true or false"),
    ],
)
def test_invalid_files_are_rejected_naming_the_file(
    tmp_path: Path, change: Any, complaint: str
) -> None:
    path = _write(tmp_path, change(VALID))
    with pytest.raises(TemplateError) as raised:
        load_template(str(path))
    assert str(path) in str(raised.value)
    assert complaint in str(raised.value)


def test_an_unknown_name_lists_the_shipped_templates() -> None:
    with pytest.raises(TemplateError) as raised:
        load_template("no-such-family")
    assert "'no-such-family'" in str(raised.value)
    assert all(name in str(raised.value) for name in SHIPPED)


def test_a_missing_template_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(TemplateError) as raised:
        load_template(str(missing))
    assert str(missing) in str(raised.value)


def _load_within_seconds(path: Path, seconds: float = 5) -> str:
    """The error loading ``path`` gives; a load that blocks fails the test instead of hanging."""
    errors: list[str] = []

    def load() -> None:
        try:
            load_template(str(path))
        except TemplateError as error:
            errors.append(str(error))

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"loading {path} blocked"
    [error] = errors
    return error


def test_stdin_is_not_a_template() -> None:
    """It is the LSP input: reading it would steal the editor's messages."""
    error = _load_within_seconds(Path("/dev/stdin"))
    assert "'/dev/stdin'" in error and ".toml" in error


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no fifos on this system")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in _load_within_seconds(fifo)
    link = tmp_path / "link.toml"
    link.symlink_to("/dev/stdin")
    assert "not a regular file" in _load_within_seconds(link)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "templates.toml"
    folder.mkdir()
    error = _load_within_seconds(folder)
    assert str(folder) in error and "not a regular file" in error


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.toml"
    huge.write_text(VALID + "#" * MAX_TEMPLATE_BYTES, encoding="utf-8")
    error = _load_within_seconds(huge)
    assert str(huge) in error and "64 KiB" in error


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    text_file = tmp_path / "mine.txt"
    text_file.write_text(VALID, encoding="utf-8")
    assert "unknown FIM template" in _load_within_seconds(text_file)


# --- detection ------------------------------------------------------------------------------


@dataclass
class FakeVocabulary:
    """Special tokens by id (their index); everything else is ordinary text.

    ``parses_special_text`` off stands for a tokenizer that will not say which texts are
    special tokens, leaving the GGUF metadata as the only evidence.
    """

    tokens: tuple[str, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    parses_special_text: bool = True

    def token_text(self, token_id: int) -> str:
        return self.tokens[token_id]

    def is_single_token(self, text: str) -> bool:
        return self.parses_special_text and text in self.tokens


QWEN = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
CODEGEMMA = (
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|file_separator|>",
)
DEEPSEEK = (DS_BOS, DS_EOS, DS_HOLE, DS_BEGIN, DS_END, "<|EOT|>")
STARCODER = (
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<filename>",
    "<gh_stars>",
    "<reponame>",
)
STARCODER2 = (
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<repo_name>",
    "<file_sep>",
)
GRANITE3 = (
    "<|end_of_text|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<filename>",
    "<reponame>",
    "<|start_of_role|>",
)
SANTACODER = ("<|endoftext|>", "<fim-prefix>", "<fim-middle>", "<fim-suffix>", "<fim-pad>")
CODELLAMA = ("<unk>", "<s>", "</s>", f"{SP}<PRE>", f"{SP}<SUF>", f"{SP}<MID>", f"{SP}<EOT>")
CODESTRAL = ("<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[PREFIX]", "[SUFFIX]")


def _named(name: str) -> dict[str, str]:
    return {"general.name": name}


@pytest.mark.parametrize(
    ("vocab", "expected"),
    [
        (FakeVocabulary(QWEN), "qwen2.5-coder"),
        (FakeVocabulary(CODEGEMMA), "codegemma"),
        (FakeVocabulary(DEEPSEEK), "deepseek-coder"),
        (FakeVocabulary(STARCODER), "starcoder"),
        (FakeVocabulary(STARCODER2), "starcoder2"),
        (FakeVocabulary(SANTACODER), "santacoder"),
        (FakeVocabulary(CODELLAMA), "codellama"),
        (FakeVocabulary(CODESTRAL), "codestral"),
        (FakeVocabulary(STARCODER, _named("Granite 8b Code Base")), "granite-code"),
        (FakeVocabulary(GRANITE3, {"general.basename": "granite-3.3"}), "granite-code"),
        (FakeVocabulary(STARCODER2, _named("StarCoder2 15B")), "starcoder2"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_detection_from_single_tokens(vocab: FakeVocabulary, expected: str) -> None:
    assert detect_template(vocab).name == expected


@pytest.mark.parametrize("names", [{}, _named("Qwen2.5 Coder"), _named("x")])
def test_a_backend_that_cannot_heal_never_gets_the_layout_that_needs_healing(
    names: dict[str, str],
) -> None:
    for tokens in (QWEN, CODEGEMMA, ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")):
        assert detect_template(FakeVocabulary(tokens, names)).name != "qwen2.5-coder-suffix-first"


@pytest.mark.parametrize("names", [{}, _named("Qwen2.5 Coder 0.5B Instruct")])
def test_a_backend_that_heals_gets_the_layout_that_needs_healing(names: dict[str, str]) -> None:
    """The embedded backend heals the cursor's token: Qwen models get the suffix-first layout;
    engines over HTTP cannot heal, and get the prefix-first one."""
    assert detect_template(FakeVocabulary(QWEN, names), heals=True).name == (
        "qwen2.5-coder-suffix-first"
    )
    assert detect_template(FakeVocabulary(QWEN, names)).name == "qwen2.5-coder"


@pytest.mark.parametrize(
    "vocab",
    [FakeVocabulary(CODEGEMMA), FakeVocabulary(STARCODER2), FakeVocabulary(CODESTRAL)],
    ids=["codegemma", "starcoder2", "codestral"],
)
def test_healing_changes_nothing_for_families_with_one_layout(vocab: FakeVocabulary) -> None:
    assert detect_template(vocab, heals=True) == detect_template(vocab)


def test_qwen_and_codegemma_share_fim_texts_and_are_told_apart_by_their_file_separator() -> None:
    assert detect_template(FakeVocabulary(QWEN, _named("CodeGemma 2b"))).name == "qwen2.5-coder"
    assert detect_template(FakeVocabulary(CODEGEMMA, _named("Qwen2.5 Coder"))).name == "codegemma"


def test_declared_fim_token_ids_outweigh_what_else_the_vocabulary_holds() -> None:
    both = QWEN + STARCODER2
    metadata = {
        "tokenizer.ggml.fim_pre_token_id": str(both.index("<|fim_prefix|>")),
        "tokenizer.ggml.fim_suf_token_id": str(both.index("<|fim_suffix|>")),
        "tokenizer.ggml.fim_mid_token_id": str(both.index("<|fim_middle|>")),
    }
    assert detect_template(FakeVocabulary(both)).name == "starcoder2"
    assert detect_template(FakeVocabulary(both, metadata)).name == "qwen2.5-coder"


def test_the_older_gguf_key_names_are_read_too() -> None:
    metadata = {
        "tokenizer.ggml.prefix_token_id": str(CODEGEMMA.index("<|fim_prefix|>")),
        "tokenizer.ggml.suffix_token_id": str(CODEGEMMA.index("<|fim_suffix|>")),
        "tokenizer.ggml.middle_token_id": str(CODEGEMMA.index("<|fim_middle|>")),
    }
    vocab = FakeVocabulary(CODEGEMMA, metadata, parses_special_text=False)
    assert detect_template(vocab).name == "codegemma"


def test_codestral_gguf_declaring_no_middle_token_is_recognised() -> None:
    metadata = {
        "tokenizer.ggml.prefix_token_id": str(CODESTRAL.index("[PREFIX]")),
        "tokenizer.ggml.suffix_token_id": str(CODESTRAL.index("[SUFFIX]")),
        "tokenizer.ggml.middle_token_id": "-1",
    }
    vocab = FakeVocabulary(CODESTRAL, metadata, parses_special_text=False)
    assert detect_template(vocab).name == "codestral"


def test_unknown_declared_fim_tokens_fall_back_to_the_vocabulary() -> None:
    tokens = ("<|code_prefix|>", "<|code_suffix|>", "<|code_middle|>", *QWEN)
    metadata = {"tokenizer.ggml.fim_pre_token_id": "0", "tokenizer.ggml.fim_suf_token_id": "1"}
    assert detect_template(FakeVocabulary(tokens, metadata)).name == "qwen2.5-coder"


@pytest.mark.parametrize(
    ("model_name", "expected"),
    [
        ("CodeLlama 7B", "codellama"),
        ("deepseek-coder-6.7b-base", "deepseek-coder"),
        ("DeepSeek Coder V2 Lite Base", "deepseek-coder"),
        ("StarCoder2-7B", "starcoder2"),
        ("Qwen2.5 Coder 1.5B", "qwen2.5-coder"),
    ],
)
def test_without_fim_tokens_the_model_name_decides(model_name: str, expected: str) -> None:
    assert detect_template(FakeVocabulary((), _named(model_name))).name == expected


def test_a_model_without_fim_tokens_is_refused_with_a_way_out() -> None:
    vocab = FakeVocabulary(("<s>", "</s>", "[INST]"), _named("Mistral 7B Instruct"))
    with pytest.raises(NoFimSupportError) as raised:
        detect_template(vocab)
    message = str(raised.value)
    assert "Mistral 7B Instruct" in message
    assert "--template" in message
    assert "qwen2.5-coder" in message


# --- the real Qwen tokenizer ----------------------------------------------------------------

FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, REPO_NAME, FILE_SEP = 151659, 151660, 151661, 151663, 151664


@pytest.fixture(scope="module")
def qwen_llama(model_path: Path) -> Iterator[Any]:
    """Vocabulary only: no weights are loaded."""
    import llama_cpp

    llama = llama_cpp.Llama(model_path=str(model_path), vocab_only=True, verbose=False)
    yield llama
    llama.close()


def _ids(llama: Any, text: str, *, special: bool) -> list[int]:
    return list(llama.tokenize(text.encode(), add_bos=False, special=special))


@pytest.mark.model
def test_real_qwen_tokenizer_sees_the_plain_prompt_fim_tokens(qwen_llama: Any) -> None:
    prompt = load_template("qwen2.5-coder").render(PREFIX, SUFFIX)
    assert _ids(qwen_llama, prompt, special=True) == [
        FIM_PREFIX,
        *_ids(qwen_llama, PREFIX, special=False),
        FIM_SUFFIX,
        *_ids(qwen_llama, SUFFIX, special=False),
        FIM_MIDDLE,
    ]


@pytest.mark.model
def test_real_qwen_tokenizer_sees_the_repository_form_tokens(qwen_llama: Any) -> None:
    prompt = load_template("qwen2.5-coder").render(
        PREFIX, SUFFIX, path="src/add.py", repo="calc", extra_files=CONTEXT[:1]
    )
    assert _ids(qwen_llama, prompt, special=True) == [
        REPO_NAME,
        *_ids(qwen_llama, "calc\n", special=False),
        FILE_SEP,
        *_ids(qwen_llama, "lib/util.py\ndef helper():\n    pass\n\n", special=False),
        FILE_SEP,
        *_ids(qwen_llama, "src/add.py\n", special=False),
        FIM_PREFIX,
        *_ids(qwen_llama, PREFIX, special=False),
        FIM_SUFFIX,
        *_ids(qwen_llama, SUFFIX, special=False),
        FIM_MIDDLE,
    ]


@pytest.mark.model
def test_real_qwen_model_is_detected_and_its_stops_are_single_tokens(qwen_llama: Any) -> None:
    vocab = LlamaVocabulary(qwen_llama)
    template = detect_template(vocab)
    assert template.name == "qwen2.5-coder"
    assert all(vocab.is_single_token(text) for text in template.special_tokens)
    assert all(vocab.is_single_token(text) for text in template.stop)
    assert not vocab.is_single_token("<|file_separator|>")
