"""The web app's browser tests (frontend/e2e/stack.test.mjs) in Debian's headless Chromium,
against the same running local stack the HTTP tests use: sign in, upload, follow, view, download,
classify. Screenshots of each step land in frontend/test-results/e2e/.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FRONTEND = REPO_ROOT / "frontend"
STACK_TESTS = FRONTEND / "e2e" / "stack.test.mjs"


def _browser_test_names() -> list[str]:
    source = STACK_TESTS.read_text()
    body = source[source.index("export const tests = {") :]
    return re.findall(r"^  '([^']+)': async", body, re.MULTILINE)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("name", _browser_test_names())
def test_browser(local_stack, name):
    assert shutil.which("node"), "node is required for the browser tests"
    assert Path("/usr/bin/chromium").exists(), "Debian's chromium is required (scripts/setup.sh --browser)"
    assert (FRONTEND / "dist" / "index.html").exists(), "the web app is not built (scripts/setup.sh builds it)"
    env = {
        **local_stack.env,
        "OCULUS_WEB_URL": local_stack.outputs["WebUrl"],
        "OCULUS_E2E_EMAIL": local_stack.env["OCULUS_DEMO_EMAIL"],
        "OCULUS_E2E_PASSWORD": local_stack.env["OCULUS_DEMO_PASSWORD"],
    }
    report_path = FRONTEND / "test-results" / "e2e.json"
    report_path.unlink(missing_ok=True)  # never read a previous run's report
    run = subprocess.run(
        ["node", "e2e/run.mjs", name],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert report_path.exists(), f"the browser runner wrote no report:\n{run.stdout}\n{run.stderr}"
    report = json.loads(report_path.read_text())
    results = [r for r in report["results"] if r["name"] == name]
    assert results, f"browser test {name!r} did not run:\n{run.stdout}\n{run.stderr}"
    assert results[0]["ok"], f"{results[0].get('error')}\nconsole: {results[0].get('console')}\n{run.stdout[-3000:]}"
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
