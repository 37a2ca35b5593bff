"""``lsp-fim complete`` run as a command against an engine, at the README's example cursor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).parent.parent / "examples" / "norm.py"


def complete(*flags: str) -> dict[str, Any]:
    """``lsp-fim complete --json`` at the README's example cursor, with no generation time
    limit: the answer must not depend on how busy the machine is."""
    command = [sys.executable, "-m", "lsp_fim", "complete", str(EXAMPLE)]
    command += ["--line", "4", "--character", "8", "--json", "--max-generate-ms", "0", *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    print(" ".join(flags), json.dumps(answer))  # the numbers, for the record (-s)
    return answer
