"""Running a program and everything it starts, bounded in time: a candidate program of the
quality harness, a headless editor and the server it starts."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_to_end(
    command: Sequence[str],
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    keep_output: bool = True,
) -> tuple[int | None, str]:
    """Runs ``command`` in a process group of its own to its end, or kills the whole group
    past ``timeout_s`` (its exit status is then negative). Returns the exit status and the
    output, stdout and stderr together; none unless ``keep_output`` (a program that is not
    ours could print without end)."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if keep_output else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if keep_output else subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return process.returncode, (output or b"").decode(errors="replace")
