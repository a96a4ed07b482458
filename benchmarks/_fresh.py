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


def settle_memory(gb: float) -> None:
    """Touch and free ``gb`` GB in a child process, right before a timed run (nothing when 0).

    The benchmark VM reports free memory to its host (virtio-balloon free page reporting, in blocks of
    8 MB, ~2 s after they are freed); a process that touches such memory again waits for the host to
    hand it back. Touching 1.5 GB there took 2.9-3.0 s when it had been free for 15 s and 0.19 s right
    after another allocation freed it (2026-12-07). So a run right after a long idle or after another
    program's exit pays ~1.9 s per GB of its footprint, one right after a run of the same size does not.
    Settling before every timed process, on both sides, gives each the memory a machine without free
    page reporting would; the benchmarks print whether they did.
    """
    if gb > 0:
        subprocess.run([sys.executable, "-c", f"b'\\x01' * {int(gb * 1e9)}"], check=True)


def run_timed(command: list[str]) -> tuple[float, float, str]:
    """Run ``command`` as a whole process under GNU time: (wall seconds, its own peak RSS in GB, stderr).

    The peak is the process's own (``/usr/bin/time -f %M``), not ``RUSAGE_CHILDREN``, which counts a
    forked child's copy of the parent's pages before it execs.
    """
    import time

    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "PEAK_KB %M", *command], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    lines = proc.stderr.strip().splitlines()
    peak = next(int(ln.split()[1]) for ln in reversed(lines) if ln.startswith("PEAK_KB "))
    return seconds, peak / 1e6, "\n".join(ln for ln in lines if not ln.startswith("PEAK_KB "))
