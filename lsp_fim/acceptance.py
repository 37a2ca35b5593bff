"""Local acceptance statistics: how many of the suggestions shown were taken, per language and
per model, so a user can see what works for them.

The editor tells the server what became of its answers: ``lspFim/didShowCompletion``,
``lspFim/didAcceptCompletion`` and ``lspFim/didPartiallyAcceptCompletion`` (a word or a line
of it, ``acceptedLength`` characters from its start so far), each naming the ``id`` the server
gave the item (ghost text: the argument of its :data:`ACCEPT_COMMAND`; a completion-menu item:
its ``data``, :data:`ANSWER_ID_FIELD`). Only counts and lengths are
kept, never code, in a small JSON file of the user's cache; nothing is ever sent anywhere.
The setting ``acceptanceStats: false`` turns it off: then nothing is counted, read or written.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import tempfile
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from lsp_fim.config import HTTP_BACKENDS, Settings, wire_name
from lsp_fim.models import DEFAULT_MODEL
from lsp_fim.models.auto import AUTO, auto_pick
from lsp_fim.models.store import cache_root

log = logging.getLogger(__name__)

STATS_FILE_NAME = "acceptance-stats.json"
FORMAT_VERSION = 1
# The client command on every suggestion the server gives an id: accepting the suggestion runs
# it, and the editor's glue sends ``lspFim/didAcceptCompletion`` with its argument, the id.
ACCEPT_COMMAND = "lspFim.completionAccepted"
# A completion-menu item carries its id in ``data``, under this key.
ANSWER_ID_FIELD = "lspFimId"
# Answers remembered for the editor's reports: one a keystroke, and a report comes at once.
REMEMBERED_ITEMS = 256
# The file is written at most this often while the editor reports, and at shutdown.
WRITE_EVERY_S = 5.0


def stats_path() -> Path:
    return cache_root() / STATS_FILE_NAME


def model_label(settings: Settings) -> str:
    """The model a suggestion came from, as the settings name it: a file's name without its
    folders, a known name or hub id, or for an HTTP engine its model name or the backend."""
    if settings.backend in HTTP_BACKENDS:
        return settings.backend_model or settings.backend
    spec = settings.model or os.environ.get("LSP_FIM_MODEL") or DEFAULT_MODEL
    if spec.strip() == AUTO:
        return auto_pick().model.name  # the model auto names here, as resolving it did
    return Path(spec).name if spec.endswith(".gguf") else spec


@dataclass
class Tally:
    """The counts of one language and model."""

    shown: int = 0
    accepted: int = 0
    partially_accepted: int = 0  # a word or line taken, the rest not (yet)
    shown_chars: int = 0
    accepted_chars: int = 0

    def add(self, other: Tally) -> None:
        for name in _TALLY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def accept_rate(self) -> float | None:
        """Of the suggestions shown, the share accepted whole."""
        return self.accepted / self.shown if self.shown else None

    def wire(self) -> dict[str, Any]:
        counts: dict[str, Any] = {wire_name(name): value for name, value in asdict(self).items()}
        counts["acceptRate"] = self.accept_rate()
        return counts


_TALLY_FIELDS = tuple(f.name for f in fields(Tally))


@dataclass
class _Answer:
    """What the server remembers of a suggestion it gave, until the editor reports on it."""

    language: str
    model: str
    length: int
    shown: bool = False
    accepted: bool = False
    partial_chars: int = 0


class AcceptanceStats:
    """The counts, read from ``path`` when first needed and written back behind the reports.

    Lives on the event loop: handlers call it, and the write it schedules runs there too."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or stats_path()
        self._tallies: dict[tuple[str, str], Tally] | None = None
        self._answers: OrderedDict[str, _Answer] = OrderedDict()
        self._session = uuid.uuid4().hex[:8]  # ids of an earlier server's answers mean nothing
        self._numbers = itertools.count(1)
        self._dirty = False
        self._write_scheduled = False
        self._written_at = -WRITE_EVERY_S

    # what the editor reports ---------------------------------------------------------------

    def remember(self, language: str, model: str, length: int) -> str:
        """The id of a suggestion of ``length`` characters given for ``language`` by ``model``."""
        answer_id = f"{self._session}-{next(self._numbers)}"
        self._answers[answer_id] = _Answer(language, model, length)
        while len(self._answers) > REMEMBERED_ITEMS:
            self._answers.popitem(last=False)
        return answer_id

    def shown(self, answer_id: str) -> bool:
        """Count a suggestion shown (once, however often the editor shows it again); False
        for an id this server did not give or no longer remembers."""
        answer = self._answers.get(answer_id)
        if answer is None:
            return False
        self._count_shown(answer)
        return True

    def accepted(self, answer_id: str) -> bool:
        """Count a suggestion accepted whole (once); it was shown, reported or not."""
        answer = self._answers.get(answer_id)
        if answer is None:
            return False
        self._count_shown(answer)
        if not answer.accepted:
            answer.accepted = True
            tally = self._tally(answer)
            tally.accepted += 1
            tally.accepted_chars += answer.length - answer.partial_chars
            self._changed()
        return True

    def partially_accepted(self, answer_id: str, accepted_length: int) -> bool:
        """Count a suggestion of which the first ``accepted_length`` characters were taken (as
        editors report it: all taken so far, so a second word adds only its own length)."""
        answer = self._answers.get(answer_id)
        if answer is None:
            return False
        self._count_shown(answer)
        taken = min(max(accepted_length, 0), answer.length)
        if answer.accepted or taken <= answer.partial_chars:
            return True
        tally = self._tally(answer)
        if answer.partial_chars == 0:
            tally.partially_accepted += 1
        tally.accepted_chars += taken - answer.partial_chars
        answer.partial_chars = taken
        self._changed()
        return True

    def _count_shown(self, answer: _Answer) -> None:
        if not answer.shown:
            answer.shown = True
            tally = self._tally(answer)
            tally.shown += 1
            tally.shown_chars += answer.length
            self._changed()

    # the counts ----------------------------------------------------------------------------

    def _tally(self, answer: _Answer) -> Tally:
        return self.tallies().setdefault((answer.language, answer.model), Tally())

    def tallies(self) -> dict[tuple[str, str], Tally]:
        """Every (language, model)'s counts, the file's included."""
        if self._tallies is None:
            self._tallies = read_tallies(self.path)
        return self._tallies

    def summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The counts per language and per model, camelCase with the accept rate, as
        ``lspFim/stats`` gives them."""
        return {
            "byLanguage": {key: tally.wire() for key, tally in totals(self.tallies(), 0).items()},
            "byModel": {key: tally.wire() for key, tally in totals(self.tallies(), 1).items()},
        }

    # the file ------------------------------------------------------------------------------

    def _changed(self) -> None:
        """Write within :data:`WRITE_EVERY_S` (at once when the last write is that old)."""
        self._dirty = True
        if self._write_scheduled:
            return
        self._write_scheduled = True
        delay = max(0.0, self._written_at + WRITE_EVERY_S - time.monotonic())
        asyncio.get_running_loop().call_later(delay, self.flush)

    def flush(self) -> None:
        """Write the counts if they changed since the last write (a fault is logged: the counts
        are a convenience, never a reason to fail)."""
        self._write_scheduled = False
        if not self._dirty or self._tallies is None:
            return
        self._dirty = False
        self._written_at = time.monotonic()
        try:
            write_tallies(self.path, self._tallies)
        except OSError as error:
            log.warning("acceptance statistics not written to %s: %s", self.path, error)


def totals(tallies: dict[tuple[str, str], Tally], part: int) -> dict[str, Tally]:
    """The tallies summed by language (``part`` 0) or by model (1)."""
    summed: dict[str, Tally] = {}
    for key, tally in sorted(tallies.items()):
        summed.setdefault(key[part], Tally()).add(tally)
    return summed


def read_tallies(path: Path) -> dict[tuple[str, str], Tally]:
    """The counts in ``path``; none when it does not exist, and none (with a warning) when it
    cannot be read as such: it is counted again from nothing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            (str(row["language"]), str(row["model"])): Tally(**_counts(row))
            for row in data["tallies"]
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError) as error:
        log.warning("acceptance statistics in %s unreadable (%s): counting from zero", path, error)
        return {}


def _counts(row: Any) -> dict[str, int]:
    counts = {name: row.get(wire_name(name), 0) for name in _TALLY_FIELDS}
    if not all(isinstance(value, int) and value >= 0 for value in counts.values()):
        raise ValueError(f"counts must be integers >= 0, got {counts}")
    return counts


def write_tallies(path: Path, tallies: dict[tuple[str, str], Tally]) -> None:
    """Replace ``path`` at once (a reader never sees half a file), readable by its owner only."""
    rows = [
        {"language": language, "model": model, **tally.wire()}
        for (language, model), tally in sorted(tallies.items())
    ]
    for row in rows:
        del row["acceptRate"]  # worked out when read
    text = json.dumps({"version": FORMAT_VERSION, "tallies": rows}, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:  # mkstemp: mode 0600
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def render_acceptance_table(tallies: dict[tuple[str, str], Tally], path: Path) -> str:
    """The ``lsp-fim stats`` view: shown, accepted whole, in part, and the accept rate, by
    language and by model."""
    if not tallies:
        return f"no suggestions counted yet ({path})"
    lines = []
    for title, part in (("language", 0), ("model", 1)):
        lines.append(f"{title:<28} {'shown':>7} {'accepted':>9} {'in part':>8} {'rate':>6}")
        for name, tally in totals(tallies, part).items():
            rate = tally.accept_rate()
            shown_rate = f"{rate:.0%}" if rate is not None else "-"
            lines.append(
                f"{name:<28} {tally.shown:>7} {tally.accepted:>9} "
                f"{tally.partially_accepted:>8} {shown_rate:>6}"
            )
        lines.append("")
    lines.append(f"counted on this machine only, in {path}")
    return "\n".join(lines)
