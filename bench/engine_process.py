"""An HTTP inference engine (llama.cpp's llama-server, llama-cpp-python's server) run as a
subprocess on a free loopback port: started, waited for until it answers, stopped.

The engine's output goes to files, not pipes: a chatty engine must never block on a full pipe
nobody reads, and a start that fails can quote the end of what the engine said.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

TAIL_CHARS = 3000
STOP_TIMEOUT_S = 10


class EngineStartError(RuntimeError):
    """The engine exited or did not answer in time; the message ends with its stderr."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def llama_server_env(binary: Path) -> dict[str, str]:
    """This environment, with the folder of a llama-server binary on the library path: a
    build with shared libraries (llama.cpp's default, its release archives) keeps them beside
    the binary, where the loader does not look. (``.ci/llama_server.sh`` builds a static one.)"""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        part for part in (str(binary.parent), env.get("LD_LIBRARY_PATH")) if part
    )
    return env


@dataclass(frozen=True)
class EngineProcess:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        """Everything the engine wrote so far, stdout then stderr."""
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def stderr_tail(self) -> str:
        return self.stderr.read_text(errors="replace")[-TAIL_CHARS:]


@contextlib.contextmanager
def running_engine(
    name: str,
    command: list[str],
    port: int,
    ready_path: str,
    log_dir: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> Iterator[EngineProcess]:
    """The engine, once ``ready_path`` answers 200 (llama-server's ``/health`` does once the
    model is loaded); stopped (killed if it will not stop) however the caller ends, so no
    model process outlives its user on a machine with two cores. Output goes to
    ``log_dir/NAME.stdout`` and ``.stderr``."""
    stdout, stderr = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
    engine = EngineProcess(name, f"http://127.0.0.1:{port}", process, stdout, stderr)
    try:
        _wait_ready(engine, ready_path, timeout_s)
        yield engine
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)


def _wait_ready(engine: EngineProcess, path: str, timeout_s: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if engine.process.poll() is not None:
            raise EngineStartError(
                f"{engine.name} exited with status {engine.process.returncode} while starting; "
                f"its stderr ends with:\n{engine.stderr_tail()}"
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(engine.url + path, timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise EngineStartError(
        f"{engine.name} did not answer {engine.url}{path} within {timeout_s:.0f} s; "
        f"its stderr ends with:\n{engine.stderr_tail()}"
    )
