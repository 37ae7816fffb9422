"""Lint is part of the test command: ruff over the Python tree, and the web app's type check
(`tsc --noEmit`) and ESLint (with the React hooks rules). Each test runs the pinned tool the
way a developer would and shows its findings when it fails.

The tools come from setup: ruff from requirements-dev.txt into .venv, TypeScript and ESLint
from frontend/package-lock.json into frontend/node_modules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FRONTEND = REPO_ROOT / "frontend"
NODE_BIN = FRONTEND / "node_modules" / ".bin"


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def _node_tool(name: str) -> str:
    tool = NODE_BIN / name
    if not tool.exists():
        pytest.fail(f"{tool} is missing: install the web app's dependencies (scripts/setup.sh)")
    return str(tool)


def test_ruff_finds_nothing():
    run = _run([sys.executable, "-m", "ruff", "check", "--output-format=concise", "."], REPO_ROOT)
    assert run.returncode == 0, f"ruff check found problems:\n{run.stdout}{run.stderr}"


def test_web_app_type_checks():
    run = _run([_node_tool("tsc"), "--noEmit", "-p", "tsconfig.json"], FRONTEND)
    assert run.returncode == 0, f"tsc --noEmit failed:\n{run.stdout}{run.stderr}"


def test_eslint_finds_nothing():
    # --max-warnings 0: a warning (e.g. a missing hook dependency) fails like an error.
    run = _run([_node_tool("eslint"), "--max-warnings", "0", "."], FRONTEND)
    assert run.returncode == 0, f"eslint found problems:\n{run.stdout}{run.stderr}"
