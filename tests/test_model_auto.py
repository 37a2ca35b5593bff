"""``model: "auto"``: the rule on scripted machines, how this machine is read, and ``auto``
through resolution, ``$LSP_FIM_MODEL``, ``model pull``, ``model list`` and the doctor (a
private cache; the machine is scripted, never this one's)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from lsp_fim import doctor
from lsp_fim.cli import main
from lsp_fim.config import Settings
from lsp_fim.doctor import Status, run_checks
from lsp_fim.models import auto, catalogue
from lsp_fim.models.auto import Machine, auto_model, this_machine
from lsp_fim.models.catalogue import GIB, KnownModel, PypiParts
from lsp_fim.models.resolve import resolve_model
from lsp_fim.models.store import ModelStoreError, cache_dir

SMALL = "qwen2.5-coder-0.5b"
LARGE = "qwen2.5-coder-1.5b"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache, no model in the environment, and nothing logged yet by ``auto``."""
    monkeypatch.setenv("LSP_FIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LSP_FIM_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(auto, "_logged", set())
    (tmp_path / "cache").mkdir()
    return tmp_path / "cache"


def on_machine(monkeypatch: pytest.MonkeyPatch, cores: int, memory_bytes: int | None) -> None:
    monkeypatch.setattr(auto, "this_machine", lambda: Machine(cores, memory_bytes))


def cache_sparse(name: str) -> Path:
    """A file of the known model's size in the cache: what resolution (not a pull) trusts."""
    model = catalogue.known_model(name)
    assert model is not None
    path = cache_dir() / model.filename
    with path.open("wb") as sparse:
        sparse.truncate(model.size)
    return path


def tiny_models(monkeypatch: pytest.MonkeyPatch) -> tuple[KnownModel, KnownModel]:
    """Two cached models with real sha256s: ``small`` for any machine, ``big`` for 4 cores."""
    made = []
    for name, cores in (("small", 1), ("big", 4)):
        data = b"GGUF" + name.encode() * 20
        model = KnownModel(
            name, f"a {name} test model", f"{name}.gguf", hashlib.sha256(data).hexdigest(),
            len(data), "t/t", PypiParts("t{}", 1, "1"), cores, GIB if cores > 1 else 0,
        )  # fmt: skip
        (cache_dir() / model.filename).write_bytes(data)
        made.append(model)
    monkeypatch.setattr(catalogue, "KNOWN_MODELS", tuple(made))
    return made[0], made[1]


@pytest.mark.parametrize(
    ("cores", "memory", "picked"),
    [
        (1, None, SMALL),
        (2, 24 * GIB, SMALL),
        (8, 8 * GIB, LARGE),
        (16, 4 * GIB, SMALL),
        (8, None, SMALL),  # unknown memory is not enough
        (7, 64 * GIB, SMALL),
        (8, 8 * GIB - 1, SMALL),
    ],
)
def test_auto_picks_the_largest_model_the_machine_meets(
    cores: int, memory: int | None, picked: str
) -> None:
    assert auto_model(cores, memory).name == picked


def test_the_rule_is_data_in_the_catalogue() -> None:
    small, large = catalogue.known_models()
    assert (small.auto_min_cores, small.auto_min_memory_bytes) == (1, 0)
    assert (large.auto_min_cores, large.auto_min_memory_bytes) == (8, 8 * GIB)
    assert catalogue.DEFAULT_MODEL == SMALL


def test_this_machine_reads_affinity_and_meminfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemFree:  1000 kB\nMemTotal:       24576000 kB\n")
    monkeypatch.setattr(auto, "MEMINFO", meminfo)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert this_machine() == Machine(3, 24576000 * 1024)


def test_this_machine_falls_back_to_sysconf_then_to_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "MEMINFO", tmp_path / "no-meminfo")
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    pages = {"SC_PHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    assert this_machine() == Machine(6, 4096 * 1000)

    def no_such_name(name: str) -> int:
        raise ValueError(f"unrecognized configuration name {name}")

    monkeypatch.setattr(os, "sysconf", no_such_name)
    assert this_machine() == Machine(6, None)


def test_resolve_auto_finds_the_picked_model_in_the_cache(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    small, large = cache_sparse(SMALL), cache_sparse(LARGE)
    on_machine(monkeypatch, 8, 16 * GIB)
    with caplog.at_level(logging.INFO, logger="lsp_fim.models.auto"):
        assert resolve_model("auto", download=False) == large
        assert resolve_model(" auto ", download=False) == large
    said = [record.getMessage() for record in caplog.records]
    assert said == [f"model: auto → {LARGE} (8 cores, 16 GiB; the largest known model)"]
    on_machine(monkeypatch, 2, 24 * GIB)
    assert resolve_model("auto", download=False) == small


def test_lsp_fim_model_auto_falls_through_the_same_resolution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    large = cache_sparse(LARGE)
    on_machine(monkeypatch, 12, 32 * GIB)
    monkeypatch.setenv("LSP_FIM_MODEL", "auto")
    assert resolve_model(None, download=False) == large


def test_auto_not_downloaded_names_the_picked_model_and_its_pull(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache_sparse(SMALL)  # cached, but not the one auto picks here
    on_machine(monkeypatch, 8, 8 * GIB)
    with pytest.raises(
        ModelStoreError,
        match=rf"model {LARGE} \(picked by auto\) is not downloaded; "
        rf"run `lsp-fim model pull {LARGE}`",
    ):
        resolve_model("auto", download=False)


def test_other_values_keep_their_errors() -> None:
    with pytest.raises(ModelStoreError, match=r"unknown model 'Auto Model'.*OWNER/REPO"):
        resolve_model("Auto Model")
    with pytest.raises(ModelStoreError, match=f"model {SMALL} is not downloaded"):
        resolve_model(SMALL, download=False)


def test_a_file_named_auto_is_given_as_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    large = cache_sparse(LARGE)
    (tmp_path / "auto").write_bytes(b"GGUF")
    monkeypatch.chdir(tmp_path)
    on_machine(monkeypatch, 8, 8 * GIB)
    assert resolve_model("auto", download=False) == large
    assert resolve_model("./auto", download=False) == tmp_path / "auto"


def test_model_pull_auto_pulls_the_picked_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small, big = tiny_models(monkeypatch)
    on_machine(monkeypatch, 4, 2 * GIB)
    assert main(["model", "pull", "auto"]) == 0
    assert capsys.readouterr().out.strip() == str(cache_dir() / big.filename)
    on_machine(monkeypatch, 2, 2 * GIB)
    assert main(["model", "pull", "auto"]) == 0
    assert capsys.readouterr().out.strip() == str(cache_dir() / small.filename)


@pytest.mark.parametrize(
    ("cores", "memory", "line"),
    [
        (2, 23.5 * GIB, f"auto → {SMALL} (2 cores, 23.5 GiB; {LARGE} wants 8 cores, 8 GiB)"),
        (1, None, f"auto → {SMALL} (1 core, memory unknown; {LARGE} wants 8 cores, 8 GiB)"),
        (16, 32 * GIB, f"auto → {LARGE} (16 cores, 32 GiB; the largest known model)"),
    ],
)
def test_model_list_says_what_auto_picks_and_why(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cores: int,
    memory: float | None,
    line: str,
) -> None:
    on_machine(monkeypatch, cores, None if memory is None else int(memory))
    assert main(["model", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == line


def test_doctor_with_auto_names_the_picked_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, big = tiny_models(monkeypatch)
    on_machine(monkeypatch, 4, 2 * GIB)
    check, path = doctor._model("auto")
    assert check.status is Status.OK and path == cache_dir() / big.filename
    assert check.detail == (
        f"big at {path}, sha256 verified; auto → big (4 cores, 2 GiB; the largest known model)"
    )
    on_machine(monkeypatch, 1, None)
    monkeypatch.setenv("LSP_FIM_MODEL", "auto")
    check, path = doctor._model(None)
    assert check.status is Status.OK and path == cache_dir() / small.filename
    assert check.detail.endswith(
        "; auto → small (1 core, memory unknown; big wants 4 cores, 1 GiB)"
    )


def test_doctor_with_auto_not_cached_fails_with_the_picked_models_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_machine(monkeypatch, 8, 8 * GIB)
    (tmp_path / "home").mkdir()
    checks = {check.check: check for check in run_checks(Settings(model="auto"), tmp_path / "home")}
    model = checks["model"]
    assert model.status is Status.FAIL
    assert model.fix == f"lsp-fim model pull {LARGE}"
    assert f"auto → {LARGE} (8 cores, 8 GiB;" in model.detail
    assert "engine" not in checks
