"""Cold-start import time of each Lambda handler, against `import boto3` measured in the same run.

    .venv/bin/python benchmarks/bench_cold_start.py [--repeat 5]

Each measurement is a fresh `python -X importtime` process; the figure is the sum of the
"self" times it reports (the whole import graph), the best of --repeat runs. Target: each
handler under 300 ms here. Also checks no heavy library (numpy, nibabel, TensorFlow, torch)
is imported by any handler.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ("upload", "process", "jobs", "health", "results")
HEAVY = ("numpy", "nibabel", "tensorflow", "torch", "scipy")
TARGET_MS = 300.0
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


TRACE_DISABLED = "false"  # as deployed (Tracing: Active) unless --no-tracing


def import_profile(statement: str, path: list[Path]) -> tuple[float, set[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in path), "POWERTOOLS_TRACE_DISABLED": TRACE_DISABLED,
           "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "t", "BUCKET_NAME": "b"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], env=env,
                          capture_output=True, text=True, check=True, cwd=path[0])
    total_us, modules = 0, set()
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            total_us += int(match.group(1))
            modules.add(match.group(4).split(".")[0])
    return total_us / 1000.0, modules


def best_of(repeat: int, statement: str, path: list[Path]) -> tuple[float, set[str]]:
    runs = [import_profile(statement, path) for _ in range(repeat)]
    return min(r[0] for r in runs), runs[0][1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-tracing", action="store_true", help="POWERTOOLS_TRACE_DISABLED=true (no X-Ray SDK import)")
    args = parser.parse_args()
    global TRACE_DISABLED
    TRACE_DISABLED = "true" if args.no_tracing else "false"
    layer = ROOT / "layers" / "shared" / "python"
    baseline, _ = best_of(args.repeat, "import boto3", [ROOT])
    print(f"baseline  import boto3                      {baseline:7.1f} ms")
    worst = 0.0
    ok = True
    for name in HANDLERS:
        ms, modules = best_of(args.repeat, "import app", [ROOT / "lambdas" / name, layer])
        heavy = sorted(modules.intersection(HEAVY))
        worst = max(worst, ms)
        verdict = "ok" if ms < TARGET_MS and not heavy else "OVER"
        ok &= verdict == "ok"
        print(f"handler   {name:<10} import app             {ms:7.1f} ms  "
              f"x{ms / baseline:4.2f} of boto3  {verdict}{'  heavy: ' + ','.join(heavy) if heavy else ''}")
    print(f"worst handler {worst:.1f} ms (target < {TARGET_MS:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
