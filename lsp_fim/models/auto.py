"""``model: "auto"``: the largest known model this machine has the cores and memory for.

The minimums are data in the catalogue (:attr:`KnownModel.auto_min_cores`,
:attr:`KnownModel.auto_min_memory_bytes`); :func:`auto_model` is the rule on given numbers,
:func:`auto_pick` reads this machine and says why, for the log and ``lsp-fim model list``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from lsp_fim.models.catalogue import GIB, KnownModel, known_models

log = logging.getLogger(__name__)

AUTO = "auto"
"""The ``model`` value (setting, ``--model``, ``$LSP_FIM_MODEL``, ``model pull``) for the pick."""

MEMINFO = Path("/proc/meminfo")

_logged: set[str] = set()  # the reasons already logged: each is said once per process


@dataclass(frozen=True)
class Machine:
    cores: int
    """The CPU cores this process may run on."""
    memory_bytes: int | None
    """Total physical memory; ``None`` when it cannot be read."""


@dataclass(frozen=True)
class AutoPick:
    model: KnownModel
    machine: Machine

    def reason(self) -> str:
        """``auto → NAME (2 cores, 23.4 GiB; BIGGER wants 8 cores, 8 GiB)``."""
        known = known_models()
        larger = known[known.index(self.model) + 1 :] if self.model in known else []
        why = "; ".join(f"{model.name} wants {_minimums(model)}" for model in larger)
        why = why or "the largest known model"
        return f"{AUTO} → {self.model.name} ({_machine(self.machine)}; {why})"


def meets(model: KnownModel, cores: int, memory_bytes: int | None) -> bool:
    """Unknown memory meets only a minimum of 0 bytes."""
    if cores < model.auto_min_cores:
        return False
    if model.auto_min_memory_bytes <= 0:
        return True
    return memory_bytes is not None and memory_bytes >= model.auto_min_memory_bytes


def auto_model(cores: int, memory_bytes: int | None) -> KnownModel:
    """The last known model (the catalogue goes smallest first) whose minimums these meet; the
    first model when none does (the catalogue's first asks for nothing, so only a catalogue
    changed by hand gets there)."""
    models = known_models()
    fitting = [model for model in models if meets(model, cores, memory_bytes)]
    return fitting[-1] if fitting else models[0]


def this_machine() -> Machine:
    return Machine(_cores(), _memory_bytes())


def auto_pick(machine: Machine | None = None) -> AutoPick:
    """What ``auto`` names on ``machine`` (default: this one)."""
    machine = machine or this_machine()
    return AutoPick(auto_model(machine.cores, machine.memory_bytes), machine)


def resolve_auto() -> KnownModel:
    """The model ``auto`` names here, logged at INFO with the reason (once per process)."""
    pick = auto_pick()
    reason = pick.reason()
    if reason not in _logged:
        _logged.add(reason)
        log.info("model: %s", reason)
    return pick.model


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return os.cpu_count() or 1


def _memory_bytes() -> int | None:
    """MemTotal from ``/proc/meminfo`` (Linux), else the page size times the physical pages."""
    try:
        for line in MEMINFO.read_text(encoding="ascii", errors="replace").splitlines():
            name, _, value = line.partition(":")
            fields = value.split()
            if name == "MemTotal" and fields and fields[0].isdigit():
                unit = fields[1].lower() if len(fields) > 1 else "b"
                return int(fields[0]) * (1024 if unit == "kb" else 1)
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf, or a name this OS lacks
        return None
    return pages * page_size if pages > 0 and page_size > 0 else None


def _machine(machine: Machine) -> str:
    memory = "memory unknown" if machine.memory_bytes is None else _gib(machine.memory_bytes)
    return f"{machine.cores} {'core' if machine.cores == 1 else 'cores'}, {memory}"


def _minimums(model: KnownModel) -> str:
    cores = model.auto_min_cores
    return f"{cores} {'core' if cores == 1 else 'cores'}, {_gib(model.auto_min_memory_bytes)}"


def _gib(size: int) -> str:
    text = f"{size / GIB:.1f}"
    return f"{text.removesuffix('.0')} GiB"
