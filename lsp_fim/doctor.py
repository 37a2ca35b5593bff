"""``lsp-fim doctor``: when no suggestion appears, say why, and what fixes it.

Each check is one line, OK, WARN or FAIL; a failure comes with the command that fixes it. The
checks read this machine only: the model is checked in the cache (never fetched), and the
engine and the test completion go to the engine the settings name, as ``serve`` would use it,
and nowhere else. ``--json`` gives the same lines as a list of ``{check, status, detail, fix}``
(a stable shape: the Neovim plugin's ``:checkhealth`` reads it).
"""

from __future__ import annotations

import json
import operator
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from importlib import metadata
from pathlib import Path

from lsp_fim.config import HTTP_BACKENDS, Settings
from lsp_fim.engine import CompletionEngine, CompletionRequest, load_engine
from lsp_fim.languages import known_languages
from lsp_fim.models.auto import AUTO, auto_pick
from lsp_fim.models.catalogue import known_models
from lsp_fim.models.resolve import effective_spec, resolve_model
from lsp_fim.models.store import ModelStoreError, cached_path, verify_file
from lsp_fim.scope import supported_languages
from lsp_fim.scope.profiles import profile_for
from lsp_fim.templates import TemplateError

# The README's example (examples/norm.py), completed at the blank line in norm().
EXAMPLE = "import math\n\n\ndef norm(x: float, y: float) -> float:\n    \n    return r\n"
EXAMPLE_OFFSET = EXAMPLE.index("    \n") + 4

# llama.cpp's CPU features that make a model fast enough to complete while typing.
FAST_CPU_FEATURES = frozenset({"AVX2", "AVX512", "NEON", "SVE"})

EDITOR_SETUP = "set up an editor as editors/README.md in lsp-fim's repository says"
# The first command a message names in backquotes (ModelStoreError messages say what to run).
_COMMAND_IN_MESSAGE = re.compile(r"`((?:lsp-fim|pip) [^`]+)`")
_RELEASE = re.compile(r"\d+(?:\.\d+)*")
_OPERATORS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    "==": operator.eq,
    "===": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "~=": operator.ge,
}
_SPECIFIER = re.compile(r"(===|==|!=|<=|>=|~=|<|>)\s*([^,\s]+)")
_REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)$")
_NVIM_SUFFIXES = frozenset({".lua", ".vim", ".fnl"})
_MAX_NVIM_FILES = 2000  # a config folder, not a plugin tree: stop reading past this many


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    check: str
    status: Status
    detail: str
    fix: str | None = None


def run_checks(settings: Settings, home: Path | None = None) -> list[Check]:
    """Every check, in the order a request needs them: installation, model, engine, editors."""
    # A hub repo id without a file name would be looked up on the hub; the doctor stays local.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    checks = [_python(), _llama_cpp_python(), _cpu(), _grammars()]
    checks += _engine_checks(settings)
    checks.append(_editors(home or Path.home()))
    return checks


def any_failed(checks: list[Check]) -> bool:
    return any(check.status is Status.FAIL for check in checks)


def as_json(checks: list[Check]) -> str:
    return json.dumps([asdict(check) for check in checks], indent=2)


def as_text(checks: list[Check]) -> str:
    width = max(len(check.check) for check in checks)
    lines = []
    for check in checks:
        lines.append(f"{check.status:<4}  {check.check:<{width}}  {check.detail}")
        if check.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {check.fix}")
    return "\n".join(lines)


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    try:
        wanted = metadata.metadata("lsp-fim")["Requires-Python"]
    except metadata.PackageNotFoundError:
        wanted = None
    return _versioned("python", version, wanted, "a Python in that range, then reinstall lsp-fim")


def _llama_cpp_python() -> Check:
    try:
        version = metadata.version("llama-cpp-python")
        import llama_cpp  # noqa: F401  (its shared library loads here)
    except (metadata.PackageNotFoundError, ImportError, OSError) as error:
        fix = "pip install --force-reinstall --no-cache-dir llama-cpp-python"
        return Check("llama-cpp-python", Status.FAIL, f"does not load: {error}", fix)
    wanted = _required("llama-cpp-python")
    fix = f"pip install 'llama-cpp-python{wanted}'"
    return _versioned("llama-cpp-python", version, wanted, fix)


def _versioned(name: str, version: str, wanted: str | None, fix: str) -> Check:
    if not wanted:
        return Check(name, Status.OK, version)
    if not in_range(version, wanted):
        return Check(name, Status.FAIL, f"{version}, but lsp-fim needs {wanted}", fix)
    return Check(name, Status.OK, f"{version} (lsp-fim needs {wanted})")


def _required(project: str) -> str | None:
    """The version range lsp-fim's own metadata asks of ``project`` (what pip installed by)."""
    try:
        requirements = metadata.requires("lsp-fim") or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        parsed = _REQUIREMENT.match(requirement.strip())
        if parsed and ";" not in requirement and _normalized(parsed[1]) == _normalized(project):
            return parsed[2].strip() or None
    return None


def _normalized(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


def in_range(version: str, specifiers: str) -> bool:
    """Whether ``version`` meets every comparison in ``specifiers`` (``>=0.3.16,<0.4``). Only
    release numbers are compared (``0.3.36rc1`` counts as ``0.3.36``), which is all that
    lsp-fim's own requirements use."""
    have = _release(version)
    for operator_text, bound_text in _SPECIFIER.findall(specifiers):
        bound = _release(bound_text)
        if operator_text == "~=" and have[: len(bound) - 1] != bound[:-1]:
            return False  # ~=1.4.2: >=1.4.2 and 1.4.*
        width = max(len(have), len(bound))
        padded = (have + (0,) * width)[:width], (bound + (0,) * width)[:width]
        if not _OPERATORS[operator_text](*padded):
            return False
    return True


def _release(version: str) -> tuple[int, ...]:
    found = _RELEASE.match(version.strip())
    return tuple(int(part) for part in found[0].split(".")) if found else ()


def _cpu() -> Check:
    """What llama.cpp itself will use, as it reports it (the features it was built for)."""
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode(errors="replace")
    except (ImportError, OSError, AttributeError) as error:
        return Check("cpu", Status.WARN, f"llama.cpp cannot say: {error}")
    features = cpu_features(info)
    shown = ", ".join(sorted(features)) or "none"
    if FAST_CPU_FEATURES & features:
        return Check("cpu", Status.OK, f"{os.cpu_count()} cores; llama.cpp uses {shown}")
    return Check(
        "cpu",
        Status.WARN,
        f"{os.cpu_count()} cores; no AVX2 or NEON among llama.cpp's features ({shown}): "
        "completions will be slow",
        "use the smallest model (--model qwen2.5-coder-0.5b), or an engine on a faster machine "
        "(--backend llama-server --backend-url URL)",
    )


def cpu_features(system_info: str) -> frozenset[str]:
    """``CPU : SSE3 = 1 | AVX2 = 1 | ...`` -> the names set to 1."""
    return frozenset(re.findall(r"(\w+) = 1\b", system_info))


def _grammars() -> Check:
    loaded, broken = [], []
    for language in supported_languages():
        try:
            profile_for(language)
            loaded.append(language)
        except ValueError as error:  # ScopeDataError: a grammar package missing or broken
            broken.append(f"{language}: {error}")
    known = known_languages()
    if broken:
        return Check(
            "grammars",
            Status.FAIL,
            "; ".join(broken),
            "pip install --force-reinstall lsp-fim (its tree-sitter grammar packages)",
        )
    return Check(
        "grammars",
        Status.OK,
        f"scope stop for {', '.join(loaded)}; {len(known)} languages known "
        "(the others end suggestions by indentation and brackets)",
    )


def _engine_checks(settings: Settings) -> list[Check]:
    """The model (in-process engine), the engine loaded or reached, its template and a timed
    completion of the example. A check that fails ends the list: the later ones need it."""
    checks = []
    if settings.backend not in HTTP_BACKENDS:
        model = _model(settings.model)
        checks.append(model[0])
        if model[1] is None:
            return checks
        settings = replace(settings, model=str(model[1]))  # loaded as checked: no fetch
    engine = _engine(replace(settings, max_generate_ms=0))
    checks.append(engine[0])
    if engine[1] is not None:
        checks.append(_template(engine[1], settings))
        checks.append(_completion(engine[1], settings))
    return checks


def _model(spec: str | None) -> tuple[Check, Path | None]:
    """Found in the cache (or at its path), and a known model's bytes hashed against the
    catalogue, as ``lsp-fim model pull`` does: a file that changed after the pull shows here.
    With ``model: auto`` each line ends with the model it picked and why."""
    why = f"; {auto_pick().reason()}" if effective_spec(spec) == AUTO else ""
    try:
        path = resolve_model(spec, download=False)
    except ModelStoreError as error:
        command = _COMMAND_IN_MESSAGE.search(str(error))
        fix = command[1] if command else "--model PATH with the path of a .gguf file"
        return Check("model", Status.FAIL, f"{error}{why}", fix), None
    known = next((model for model in known_models() if cached_path(model) == path), None)
    if known is None:
        return Check("model", Status.OK, f"{path} (a GGUF file; no checksum known){why}"), path
    if not verify_file(path, known.sha256):
        return Check(
            "model",
            Status.FAIL,
            f"{path} does not match {known.name}'s sha256 (damaged or changed){why}",
            f"lsp-fim model pull {known.name} --force",
        ), None
    return Check("model", Status.OK, f"{known.name} at {path}, sha256 verified{why}"), path


def _engine(settings: Settings) -> tuple[Check, CompletionEngine | None]:
    where = _engine_name(settings)
    try:
        engine = load_engine(settings)
    except TemplateError as error:
        fix = "set lspFim.template (or --template with lsp-fim complete) to a shipped template"
        return Check("template", Status.FAIL, str(error), fix), None
    except Exception as error:  # any failure is reported, as the doctor's job is to say it
        return Check("engine", Status.FAIL, f"{where}: {error}", _engine_fix(settings)), None
    return Check("engine", Status.OK, f"{where}: ready"), engine


def _engine_name(settings: Settings) -> str:
    if settings.backend in HTTP_BACKENDS:
        return f"{settings.backend} at {settings.backend_url or 'its default address'}"
    return f"llama.cpp in-process ({settings.threads} threads)"


def _engine_fix(settings: Settings) -> str:
    if settings.backend in HTTP_BACKENDS:
        return (
            f"start {settings.backend} there, or give its address: "
            f"lsp-fim doctor --backend {settings.backend} --backend-url URL"
        )
    return "pip install --force-reinstall --no-cache-dir llama-cpp-python"


def _template(engine: CompletionEngine, settings: Settings) -> Check:
    how = "as set" if settings.template else "detected from the model"
    return Check("template", Status.OK, f"{engine.template.name} ({how})")


def _completion(engine: CompletionEngine, settings: Settings) -> Check:
    """The example completed whole (the engine is loaded without ``maxGenerateMs``): how long
    a whole suggestion takes here is the point, and a slow machine should not hide it."""
    request = CompletionRequest(EXAMPLE, EXAMPLE_OFFSET, "python", "norm.py")
    try:
        completion = engine.complete(request)
    except Exception as error:  # reported like any failure (an engine gone since loading)
        return Check("completion", Status.FAIL, str(error), _engine_fix(settings))
    if completion is None:
        return Check("completion", Status.FAIL, "the engine gave no answer", _engine_fix(settings))
    timing = (
        f"{completion.total_ms:.0f} ms, {completion.stats.generated_tokens} tokens, "
        f"stopped by {completion.stop_reason}"
    )
    if not completion.text:
        return Check(
            "completion",
            Status.WARN,
            f"{timing}: the model suggested nothing for the example (norm.py at its blank line)",
            "lsp-fim complete FILE --line L --character C --json, on your own code",
        )
    return Check("completion", Status.OK, f"{timing}: {completion.text!r}")


def _editors(home: Path) -> Check:
    found = list(editor_configs(home))
    if found:
        return Check("editors", Status.OK, "; ".join(found))
    return Check("editors", Status.WARN, "no editor set up for lsp-fim found", EDITOR_SETUP)


def editor_configs(home: Path) -> Iterator[str]:
    """The editor set-ups that name lsp-fim: VS Code's extension (VS Code, VSCodium,
    code-server), a Neovim config, Helix's languages.toml."""
    vscode = [*home.glob(".vscode*/extensions/*lsp-fim*")]
    vscode += home.glob(".local/share/code-server/extensions/*lsp-fim*")
    for extension in sorted(vscode):
        yield f"VS Code extension {extension}"
    config = _config_home(home)
    for path in _nvim_files(config / "nvim"):
        if _names_lsp_fim(path):
            yield f"Neovim config {path}"
    helix = config / "helix" / "languages.toml"
    if _names_lsp_fim(helix):
        yield f"Helix {helix}"


def _config_home(home: Path) -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"


def _nvim_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    candidates = (path for path in folder.rglob("*") if path.suffix in _NVIM_SUFFIXES)
    for count, path in enumerate(sorted(candidates)):
        if count >= _MAX_NVIM_FILES:
            return
        yield path


def _names_lsp_fim(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "lsp-fim" in text or "lsp_fim" in text
