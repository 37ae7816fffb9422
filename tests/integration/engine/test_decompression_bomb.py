"""A 2 GiB deflate bomb (2 MB on disk) is refused by the CLI with a code, in little memory.

Run with: ``pytest tests/integration/engine/test_decompression_bomb.py``; the numbers are in
the assertion messages (``-rA`` prints them).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("bombs", Path(__file__).parents[2] / "bombs.py")
bombs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bombs)

MAX_RSS_BYTES = 512 * 1024**2


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    path = bombs.write_deflated_dicom_bomb(tmp_path_factory.mktemp("bomb") / "slice.dcm", 2 * 1024**3)
    assert path.stat().st_size < 4 * 1024**2
    return path


#: Runs the CLI as its only child, so RUSAGE_CHILDREN is that child's peak RSS alone.
_WRAPPER = (
    "import json, resource, subprocess, sys;"
    "done = subprocess.run([sys.executable, '-m', 'oculus.cli', *sys.argv[1:]], capture_output=True, text=True);"
    "print(json.dumps({'code': done.returncode, 'stdout': done.stdout,"
    " 'peak': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))"
)


def _run_measured(*args: str) -> tuple[int, str, int]:
    """(exit code, stdout, peak RSS in bytes) of ``python -m oculus.cli ARGS``."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *args], capture_output=True, text=True,
                          timeout=300, check=True)
    result = json.loads(done.stdout)
    return result["code"], result["stdout"], result["peak"]


@pytest.mark.parametrize("command", ["process", "classify"])
def test_a_deflate_bomb_exits_3_with_a_code_in_under_512_mib(bomb, tmp_path, command):
    args = [command, str(bomb), "--json"] + (["-o", str(tmp_path / "out")] if command == "process" else [])
    code, out, peak = _run_measured(*args)
    assert code == 3, out
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["ok"] is False
    assert answer["error"]["code"] == "decompression_bomb"
    assert peak < MAX_RSS_BYTES, f"peak RSS {peak / 1024**2:.0f} MiB"
    print(f"oculus {command} on a 2 GiB deflate bomb: exit {code}, peak RSS {peak / 1024**2:.0f} MiB")
