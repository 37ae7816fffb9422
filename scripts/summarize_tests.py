"""Print one 'N passed, N failed' line from the reports of every test runner in a folder.

Reads pytest's JUnit XML, Vitest's JSON report and the browser runner's (frontend/e2e/run.mjs). A runner that was
expected but left no report counts as one failure, so a crash cannot look like success.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def pytest_counts(path: Path) -> tuple[int, int, int]:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return total - failed - skipped, failed, skipped


def vitest_counts(path: Path) -> tuple[int, int, int]:
    data = json.loads(path.read_text())
    skipped = data.get("numPendingTests", 0) + data.get("numTodoTests", 0)
    return data.get("numPassedTests", 0), data.get("numFailedTests", 0), skipped


def browser_counts(path: Path) -> tuple[int, int, int]:
    """frontend/e2e/run.mjs's report: {results: [{name, ok}]}."""
    results = json.loads(path.read_text()).get("results", [])
    failed = sum(1 for r in results if not r.get("ok"))
    return len(results) - failed, failed, 0


READERS = {"pytest.xml": pytest_counts, "vitest.json": vitest_counts, "browser-mocked.json": browser_counts}


def main(folder: str) -> int:
    base = Path(folder)
    passed = failed = skipped = 0
    expected = ["pytest.xml"]
    if Path("frontend/package.json").exists():
        expected += ["vitest.json", "browser-mocked.json"]
    for name in expected:
        path = base / name
        if not path.exists():
            print(f"{name}: no report (the runner did not finish)")
            failed += 1
            continue
        p, f, s = READERS[name](path)
        print(f"{name}: {p} passed, {f} failed, {s} skipped")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
