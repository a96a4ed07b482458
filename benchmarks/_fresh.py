"""Run benchmark code in a fresh Python process (cold caches, its own peak RSS) and read its result.

The code prints one line ``RESULT <payload>``; :func:`run_fresh` returns the payload.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_fresh(code: str, args: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return line[len("RESULT ") :]
