"""The web app's browser tests (frontend/e2e/stack.test.mjs) in Debian's headless Chromium,
against the same running local stack the HTTP tests use: sign in, upload, follow, view, download,
classify. Screenshots of each step land in frontend/test-results/e2e/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FRONTEND = REPO_ROOT / "frontend"
STACK_TESTS = FRONTEND / "e2e" / "stack.test.mjs"
# The same default as frontend/e2e/harness.mjs, which launches the browser.
CHROMIUM = Path(os.environ.get("OCULUS_CHROMIUM") or "/usr/bin/chromium")


def _browser_test_names() -> list[str]:
    source = STACK_TESTS.read_text()
    body = source[source.index("export const tests = {") :]
    return re.findall(r"^  '([^']+)': async", body, re.MULTILINE)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("name", _browser_test_names())
def test_browser(local_stack, name):
    assert shutil.which("node"), "node is required for the browser tests"
    assert CHROMIUM.exists(), f"no Chromium at {CHROMIUM} (scripts/setup.sh --browser, or set OCULUS_CHROMIUM)"
    assert (FRONTEND / "dist" / "index.html").exists(), "the web app is not built (scripts/setup.sh builds it)"
    env = {
        **local_stack.env,
        "OCULUS_CHROMIUM": str(CHROMIUM),
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


def test_the_browser_harness_launches_the_chromium_named_by_oculus_chromium(tmp_path):
    called_with = tmp_path / "called-with"
    fake = tmp_path / "fake-chromium"
    fake.write_text(f'#!/bin/sh\necho "$@" > "{called_with}"\nexit 1\n')
    fake.chmod(0o755)
    launch = "import('./e2e/harness.mjs').then((h) => h.launch()).then(() => process.exit(0), () => process.exit(1))"
    run = subprocess.run(
        ["node", "-e", launch],
        cwd=FRONTEND,
        env={**os.environ, "OCULUS_CHROMIUM": str(fake)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, "a browser that exits at once cannot have been launched"
    assert called_with.exists(), f"the harness did not run $OCULUS_CHROMIUM:\n{run.stderr[-2000:]}"
    assert "--headless" in called_with.read_text()
