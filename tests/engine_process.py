"""A real inference engine run as a subprocess for the duration of a test module, and the
``lsp-fim complete`` command run against it.

The engine's output goes to files, not pipes: a chatty engine must never block on a full pipe
nobody reads, and a test that fails can quote the end of what the engine said.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).parent.parent / "examples" / "norm.py"
TAIL_CHARS = 3000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    """The engine, once ``ready_path`` answers 200; stopped (killed if it will not stop) however
    the test ends, so no model process outlives its test on a machine with two cores."""
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
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_ready(engine: EngineProcess, path: str, timeout_s: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if engine.process.poll() is not None:
            raise AssertionError(
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
    raise AssertionError(
        f"{engine.name} did not answer {engine.url}{path} within {timeout_s:.0f} s; "
        f"its stderr ends with:\n{engine.stderr_tail()}"
    )


def complete(*flags: str) -> dict[str, Any]:
    """``lsp-fim complete --json`` at the README's example cursor, with no generation time
    limit: the answer must not depend on how busy the machine is."""
    command = [sys.executable, "-m", "lsp_fim", "complete", str(EXAMPLE)]
    command += ["--line", "4", "--character", "4", "--json", "--max-generate-ms", "0", *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    print(" ".join(flags), json.dumps(answer))  # the numbers, for the record (-s)
    return answer
