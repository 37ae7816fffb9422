#!/usr/bin/env bash
# Sets up (see setup.sh) and runs the whole test suite: lint (ruff, tsc --noEmit and ESLint, as
# the tests in tests/lint), Python unit, integration and end-to-end tests, then the web app's
# unit and browser tests. Ends with one line "N passed, N failed" summing every runner; exits
# non-zero if anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
bash scripts/setup.sh --browser || { echo "0 passed, 1 failed"; exit 1; }

RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT
status=0

echo "== Python: lint (ruff, tsc, ESLint), unit, integration and end-to-end tests (incl. the browser against the local stack)"
.venv/bin/python -m pytest tests --junitxml="$RESULTS/pytest.xml" -p no:cacheprovider "$@" || status=1

if [ -f frontend/package.json ]; then
  echo "== Web app: unit tests (Vitest + Testing Library)"
  rm -f frontend/test-results/vitest.json frontend/test-results/e2e.json  # no stale reports
  (cd frontend && npx vitest run) || status=1
  cp frontend/test-results/vitest.json "$RESULTS/vitest.json" 2>/dev/null
  echo "== Web app: browser tests in headless Chromium against a mocked API (fixed data)"
  (cd frontend && node e2e/run.mjs) || status=1
  cp frontend/test-results/e2e.json "$RESULTS/browser-mocked.json" 2>/dev/null
fi

# One closing line over all runners, read from their machine-readable reports.
.venv/bin/python scripts/summarize_tests.py "$RESULTS" || status=1
exit $status
