"""One command timed from a fresh process of its own: wall seconds, and the CPU seconds and peak
RSS of the command and every process it starts (its meshing workers included).

``ru_maxrss`` of waited-for children is the largest single one, and only this wrapper's children
count, so nothing of the caller's own memory or CPU time leaks into the figures.
``bench_meshing.py`` and ``ab_mesh_cli.py`` time ``oculus mesh`` through here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_WRAPPER = """
import json, resource, subprocess, sys, time
command, env, cwd = json.loads(sys.argv[1])
started = time.perf_counter()
subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
wall = time.perf_counter() - started
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": wall, "cpu_s": kids.ru_utime + kids.ru_stime, "peak_rss_mb": kids.ru_maxrss / 1024}))
"""


def timed_command(command: list[str], *, env: dict | None = None, cwd: Path | None = None) -> dict:
    """{"wall_s", "cpu_s", "peak_rss_mb"} of one run of ``command`` (its output discarded)."""
    request = json.dumps([[str(c) for c in command], env, str(cwd) if cwd else None])
    done = subprocess.run([sys.executable, "-c", _WRAPPER, request], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
