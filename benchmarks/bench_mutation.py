"""Mutation run: how many small deliberate bugs in the product do the unit tests catch?

    nice -n 5 .venv/bin/python benchmarks/bench_mutation.py [--max-children 2] [--keep DIR]

mutmut 3 (pinned in requirements-dev.txt) makes one-token changes (operators, constants,
arguments, return values) to the modules named in pyproject.toml's ``[tool.mutmut]`` and runs,
for each, the selected tests that reach it: a mutant no test fails on "survived". mutmut 3
imports its mutants from ``./src`` of the folder it runs in, while this repository keeps the
packages at ``layers/shared/python/oculus_shared`` and ``sagemaker/oculus``; so the run happens
in a scratch copy of the working tree with both packages moved under ``src/``.

Baseline, same run: one clean pass of the selected tests, so the run's cost reads as a multiple
of it. Prints killed / total, the kill rate and the surviving mutants by function (to read
one, run with ``--keep DIR`` and then ``mutmut show NAME`` with the venv's mutmut inside DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).with_name("mutmut")
#: where each package lives in the repository -> where mutmut 3 must find it
PACKAGES = {"layers/shared/python/oculus_shared": "src/oculus_shared", "sagemaker/oculus": "src/oculus"}


def working_tree_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode()
    return [path for path in listing.split("\0") if path and (REPO / path).is_file()]


def scratch_copy(dest: Path) -> None:
    for rel in working_tree_files():
        target = rel
        for package, moved in PACKAGES.items():
            if rel.startswith(package + "/"):
                target = moved + rel[len(package):]
        (dest / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / target)
    # mutmut runs the tests inside mutants/ and copies only src/, tests/ and pyproject.toml
    # there itself; the tests also read the template, requirements files and docs.
    others = sorted(p.name for p in dest.iterdir() if p.name not in {"src", "tests", "pyproject.toml"})
    config = dest / "pyproject.toml"
    text = config.read_text()
    assert "[tool.mutmut]\n" in text, "pyproject.toml has no [tool.mutmut] section"
    config.write_text(text.replace("[tool.mutmut]\n", f"[tool.mutmut]\nalso_copy = {json.dumps(others)}\n", 1))


def clean_test_pass(workdir: Path, env: dict) -> float:
    selection = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    args = selection["pytest_add_cli_args_test_selection"]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=workdir, check=True, env={**env, "PYTHONPATH": str(workdir / "src")}, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def mutation_run(workdir: Path, env: dict, max_children: int) -> tuple[float, dict, dict[str, str]]:
    start = time.perf_counter()
    run = subprocess.run(
        [str(MUTMUT), "run", "--max-children", str(max_children)],
        cwd=workdir, env=env, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"mutmut run failed ({run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")
    subprocess.run([str(MUTMUT), "export-cicd-stats"], cwd=workdir, env=env, check=True, capture_output=True)
    stats = json.loads((workdir / "mutants" / "mutmut-cicd-stats.json").read_text())
    listing = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=workdir, env=env, check=True,
                             capture_output=True, text=True).stdout
    status = dict(line.strip().rsplit(": ", 1) for line in listing.splitlines() if ": " in line)
    return seconds, stats, status


def survivors_by_function(status: dict[str, str]) -> list[str]:
    """One line per function with survivors: its mutant numbers, for ``mutmut show``."""
    numbers: dict[str, list[str]] = {}
    totals: dict[str, int] = {}
    for name, verdict in status.items():
        function, number = name.rsplit("__mutmut_", 1)
        totals[function] = totals.get(function, 0) + 1
        if verdict == "survived":
            numbers.setdefault(function, []).append(number)
    return [f"{function}: {len(found)} of {totals[function]} survive ({', '.join(found)})"
            for function, found in numbers.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", type=Path, help="run in this (new) folder and leave it for `mutmut show`")
    args = parser.parse_args()
    env = {**os.environ, "OCULUS_SHARED_DATA": os.environ.get("OCULUS_SHARED_DATA", str(REPO.parent / "shared" / "data"))}

    workdir = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="oculus-mutation-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        scratch_copy(workdir)
        baseline = clean_test_pass(workdir, env)
        seconds, stats, status = mutation_run(workdir, env, args.max_children)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    modules = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"]
    total, killed = stats["total"], stats["killed"]
    print(f"modules mutated: {', '.join(m.removeprefix('src/') for m in modules)}")
    print(f"clean test pass (baseline): {baseline:.1f} s; mutation run: {seconds:.0f} s "
          f"({seconds / baseline:.0f}x the baseline, {args.max_children} children)")
    print(f"mutants killed: {killed} / {total}  kill rate {100.0 * killed / total:.1f} %")
    print("  " + ", ".join(f"{key} {stats[key]}" for key in ("survived", "no_tests", "timeout", "suspicious", "skipped")))
    print("surviving mutants, by function (see one with `mutmut show FUNCTION__mutmut_N`):")
    for line in survivors_by_function(status):
        print(f"  {line}")


if __name__ == "__main__":
    main()
