"""A/B of one change: ``oculus mesh`` of a git revision against the working tree, alternating.

On a shared 2-core machine one run of ``bench_meshing.py`` swings by 20 % from minute to minute,
more than most single changes are worth. This runs the same command (start-up included, every
output written) on the same label map from disk, old code and new in turn, N rounds, and prints
the median wall and CPU seconds (all processes, the meshing workers included) of each side and
their ratio. Both sides use this checkout's ``.venv`` and have their bytecode compiled first, so
only the engine's source differs. The label map is ``bench_meshing.py``'s (512 x 512 x 400,
~100 structures, written by nibabel), unless ``--label-map`` names another. Command:

    nice .venv/bin/python benchmarks/ab_mesh_cli.py --base HEAD [--rounds 8] [-- --reduction-percent 90]

Anything after ``--`` goes to ``oculus mesh`` (default: ``--reduction-percent 90``, as the
speed benchmark; give paths there as absolute paths: each side runs in its own checkout). Outputs of the last round are compared file by file (``result.zip`` by member)
and any difference is printed, so a speed-up that changed the result does not pass unnoticed.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from timed_command import timed_command

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"


def run_once(source: Path, label_map: Path, out: Path, extra: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``oculus mesh`` with ``source``'s engine."""
    measured = timed_command([PYTHON, "-m", "oculus.cli", "mesh", label_map, "-o", out, *extra],
                             env={**os.environ, "PYTHONPATH": str(source / "sagemaker")}, cwd=source)
    return measured["wall_s"], measured["cpu_s"]


def differences(old: Path, new: Path) -> list[str]:
    """Files that differ between two output folders; ``result.zip`` compared member by member."""
    found = []
    names = {str(p.relative_to(old)) for p in old.rglob("*") if p.is_file()}
    for name in sorted(names | {str(p.relative_to(new)) for p in new.rglob("*") if p.is_file()}):
        a, b = old / name, new / name
        if not (a.exists() and b.exists()):
            found.append(f"{name}: only in {'new' if b.exists() else 'old'}")
        elif name.endswith(".zip"):
            with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
                if za.namelist() != zb.namelist():
                    found.append(f"{name}: other members")
                found += [f"{name}:{m}" for m in za.namelist() if m in zb.namelist() and za.read(m) != zb.read(m)]
        elif not filecmp.cmp(a, b, shallow=False):
            found.append(name)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="git revision of the old code (e.g. HEAD)")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--label-map", type=Path, default=None)
    ap.add_argument("extra", nargs="*", help="after --: arguments of oculus mesh")
    args = ap.parse_args()
    extra = args.extra or ["--reduction-percent", "90"]
    with tempfile.TemporaryDirectory(prefix="ab-mesh-") as tmp:
        work = Path(tmp)
        base = work / "base"
        added = subprocess.run(["git", "worktree", "add", "--detach", "-f", str(base), args.base], cwd=ROOT,
                               capture_output=True, text=True)
        if added.returncode:
            sys.exit(f"git worktree add {args.base}: {added.stderr.strip()}")
        try:
            # each side runs in its own checkout: paths must not depend on the working folder
            label_map = args.label_map.resolve() if args.label_map else None
            if label_map is None:
                sys.path.insert(0, str(ROOT / "benchmarks"))
                import nibabel as nib
                from bench_meshing import affine, synthetic_label_map

                label_map = work / "labels.nii.gz"
                nib.save(nib.Nifti1Image(synthetic_label_map(), affine()), label_map)
            sides = {"old": base, "new": ROOT}
            for source in sides.values():  # as an installed package has it
                subprocess.run([str(PYTHON), "-m", "compileall", "-q", "-j", "0", str(source / "sagemaker" / "oculus")],
                               check=True)
            times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
            for round_ in range(args.rounds):
                line = []
                order = list(sides.items()) if round_ % 2 == 0 else list(sides.items())[::-1]  # neither side always first
                for side, source in order:
                    shutil.rmtree(work / side, ignore_errors=True)
                    wall, cpu = run_once(source, label_map, work / side, extra)
                    times[side].append((wall, cpu))
                    line.append(f"{side} {wall:.2f} s / {cpu:.2f} s CPU")
                print(f"round {round_ + 1}: " + "   ".join(line), flush=True)
            median = {side: (statistics.median(w for w, _ in rows), statistics.median(c for _, c in rows))
                      for side, rows in times.items()}
            for side, (wall, cpu) in median.items():
                print(f"{side} ({args.base if side == 'old' else 'working tree'}): median {wall:.2f} s wall, {cpu:.2f} s CPU")
            print(f"new/old: wall {median['new'][0] / median['old'][0]:.3f}, CPU {median['new'][1] / median['old'][1]:.3f} "
                  f"({args.rounds} rounds, load average {os.getloadavg()[0]:.1f})")
            changed = differences(work / "old", work / "new")
            print("outputs: identical" if not changed else "outputs differ: " + ", ".join(changed))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
            subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
