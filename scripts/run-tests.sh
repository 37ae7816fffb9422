#!/usr/bin/env bash
# Sets up (see setup.sh) and runs the whole test suite: Python unit, integration and
# end-to-end tests, then the web app's unit and browser tests. Ends with one line
# "N passed, N failed" summing every runner; exits non-zero if anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh --browser || { echo "0 passed, 1 failed"; exit 1; }

RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT
status=0

echo "== Python: unit, integration and end-to-end tests"
.venv/bin/python -m pytest tests --junitxml="$RESULTS/pytest.xml" -p no:cacheprovider "$@" || status=1

if [ -f frontend/package.json ]; then
  echo "== Web app: unit tests (vitest)"
  (cd frontend && npm run --silent test:ci -- --outputFile="$RESULTS/vitest.json") || status=1
  if [ -f frontend/scripts/e2e.sh ]; then
    echo "== Web app: browser tests (Playwright, Debian's Chromium) against the local stack"
    bash frontend/scripts/e2e.sh "$RESULTS/playwright.json" || status=1
  fi
fi

# One closing line over all runners, read from their machine-readable reports.
.venv/bin/python scripts/summarize_tests.py "$RESULTS" || status=1
exit $status
