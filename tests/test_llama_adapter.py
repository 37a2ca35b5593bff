"""The adapter over llama-cpp-python on the real model: what the backend relies on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_fim.backends.base import BackendError
from lsp_fim.backends.llama_adapter import LlamaModel, LlamaVocabulary

pytestmark = pytest.mark.model

CODE = "def norm(x: float, y: float) -> float:\n    return math.sqrt(x * x + y * y)  # é€😀\n"


@pytest.fixture(scope="module")
def model(model_path: Path) -> Iterator[LlamaModel]:
    loaded = LlamaModel(model_path, threads=2, context_tokens=512)
    yield loaded
    loaded.close()


@pytest.fixture
def tokens(model: LlamaModel) -> Iterator[list[int]]:
    model.clear()
    yield model.tokenize(CODE.encode(), special=False)
    model.clear()


def test_tokens_give_back_the_text(model: LlamaModel, tokens: list[int]) -> None:
    assert len(tokens) > 10
    assert b"".join(model.piece(token) for token in tokens) == CODE.encode()


def test_special_tokens_are_parsed_only_when_asked(model: LlamaModel) -> None:
    (end,) = model.tokenize(b"<|endoftext|>", special=True)
    assert len(model.tokenize(b"<|endoftext|>", special=False)) > 1
    assert model.ends_generation(end)
    assert model.piece(end) == b"", "special tokens are no generated text"
    assert not model.ends_generation(model.tokenize(b"x")[0])


def test_a_second_sequence_sharing_cells_predicts_as_the_first(
    model: LlamaModel, tokens: list[int]
) -> None:
    model.decode(tokens, 0, sequence=0)
    expected = model.predict(-1, 0).token
    model.copy(0, 1, 0, len(tokens) - 1)
    model.decode(tokens[-1:], len(tokens) - 1, sequence=1)
    assert model.predict(-1, 0).token == expected
    model.remove(1, 0)
    model.decode(tokens, 0, sequence=1)
    assert model.predict(-1, 0).token == expected


def test_every_position_can_have_logits(model: LlamaModel, tokens: list[int]) -> None:
    model.decode(tokens[:-1], 0, sequence=0)
    last = model.predict(-1, 0).token
    model.remove(0, 0)
    model.decode(tokens, 0, sequence=0, all_logits=True)
    assert model.predict(len(tokens) - 2, 0).token == last


def test_clear_empties_the_cache(model: LlamaModel, tokens: list[int]) -> None:
    model.decode(tokens, 0, sequence=0)
    expected = model.predict(-1, 0).token
    with pytest.raises(BackendError):  # positions 0… are taken
        model.decode(tokens, 0, sequence=0)
    model.clear()
    model.decode(tokens, 0, sequence=0)
    assert model.predict(-1, 0).token == expected


def test_vocabulary_reads_the_loaded_model(model: LlamaModel) -> None:
    vocabulary = LlamaVocabulary(model)
    assert vocabulary.metadata["general.architecture"] == "qwen2"
    assert vocabulary.token_text(model.tokenize(b"<|fim_middle|>")[0]) == "<|fim_middle|>"
    assert vocabulary.token_text(model.n_vocab) == ""
    assert vocabulary.is_single_token("<|fim_suffix|>")


def test_decodes_run_on_one_thread_whoever_calls(
    model: LlamaModel, tokens: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama.cpp's OpenMP keeps a thread team per calling thread: calls from the server's
    changing worker threads left a spinning team behind and cost 25-35 % more."""
    decode = model._api.llama_decode
    ran_on: list[int] = []

    def recording(*args: object) -> int:
        ran_on.append(threading.get_ident())
        return int(decode(*args))

    monkeypatch.setattr(model._api, "llama_decode", recording)
    callers = [threading.Thread(target=model.decode, args=(tokens[:4], 0, 0))]
    callers.append(threading.Thread(target=model.decode, args=(tokens[:4], 0, 1)))
    for caller in callers:
        caller.start()
        caller.join()
    model.decode(tokens[4:8], 4, 0)
    assert len(ran_on) == 3
    assert len(set(ran_on)) == 1, "every decode on the model's own thread"
    assert ran_on[0] not in {caller.ident for caller in callers} | {threading.get_ident()}


class SetAtSecondLook(threading.Event):
    """Unset when the decode starts, set when its caller next looks: a keystroke arriving
    while the model computes."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks > 1


def test_a_decode_stops_when_asked_and_leaves_the_cache_as_it_was(model: LlamaModel) -> None:
    tokens = model.tokenize((CODE * 40).encode(), special=False)[:400]
    model.clear()
    assert model.decode(tokens[:8], 0, 0)
    stop = SetAtSecondLook()
    assert not model.decode(tokens[8:400], 8, 0, stop=stop)
    assert stop.looks >= 2, "stopped while running, not before"
    assert model.decode(tokens[8:12], 8, 0), "positions 8… were free again"
    after_stop = model.predict(-1, 0).token
    model.clear()
    model.decode(tokens[:12], 0, 0)
    assert after_stop == model.predict(-1, 0).token  # batched otherwise: logits differ a little
    assert model.decode(tokens[12:16], 12, 0, stop=threading.Event()), "unset: it finishes"
