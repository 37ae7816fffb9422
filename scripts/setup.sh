#!/usr/bin/env bash
# Sets up everything IRIS Oculus needs on a fresh machine, and does nothing on a second run
# unless a dependency list changed. Called by run-local.sh and run-tests.sh.
#   --browser   also install Debian's Chromium (the browser tests need it)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WANT_BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --browser) WANT_BROWSER=1 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "setup.sh: '$1' is required but not installed" >&2; exit 1; }; }

# The CPU build of torch 2.13.0 is published for CPython 3.11 (the one TotalSegmentator's
# stack is verified on here); the Lambda code is 3.12-compatible and tested on this 3.11 too.
PYTHON=${OCULUS_PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$candidate; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "setup.sh: Python 3.11 is required (set OCULUS_PYTHON)" >&2; exit 1; }
need node
need npm

stamp() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
# The environments take about 7 GB (torch, TensorFlow, VTK for the engine and its tests); pip's
# wheel cache would add a second copy of every download, so it is off unless asked for.
export PIP_NO_CACHE_DIR=${PIP_NO_CACHE_DIR:-1}
free_gib() { df -Pk "$ROOT" | awk 'NR==2 { printf "%d", $4 / 1048576 }'; }
warn_if_disk_short() {  # a full disk fails pip halfway with a bare errno 28; say why up front
  local free; free=$(free_gib)
  if [ "$free" -lt "$1" ]; then
    printf '\033[1;33m[setup]\033[0m only %s GiB free on %s; this step needs about %s GiB (free some space if it fails with "No space left on device")\n' "$free" "$ROOT" "$1" >&2
  fi
}
# pip warns once per package about this machine's optional local index folders; keep the rest.
pip_quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

# --- Python: the product and its tests --------------------------------------------------
PY_STAMP=$(stamp requirements-dev.txt sagemaker/requirements.txt sagemaker/pyproject.toml requirements-lambda.txt scripts/setup.sh)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.oculus-stamp 2>/dev/null)" != "$PY_STAMP" ]; then
  say "Python environment (.venv): installing pinned dependencies (first run takes a few minutes)"
  warn_if_disk_short 6
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  pip_quiet .venv/bin/python -m pip install --quiet --upgrade pip==26.3
  # Install the CPU build first: a plain 'torch' requirement would pull a multi-GB CUDA build.
  pip_quiet .venv/bin/pip install --quiet torch==2.13.0
  pip_quiet .venv/bin/pip install --quiet -r requirements-dev.txt
  [ -f requirements-lambda.txt ] && pip_quiet .venv/bin/pip install --quiet -r requirements-lambda.txt
  pip_quiet .venv/bin/pip install --quiet --no-deps -e sagemaker
  echo "$PY_STAMP" > .venv/.oculus-stamp
else
  say "Python environment (.venv) is up to date"
fi

# The engine is installed editable (its source is the checkout), so pip compiles none of it; with
# PYTHONDONTWRITEBYTECODE set (as on CI and in many images) every `oculus` run would compile its
# ~40 modules again (~0.1 s). Compiled here as a regular install would be; only changed files
# are recompiled, and Python still checks each against its source before using it.
.venv/bin/python -m compileall -q -j 0 sagemaker/oculus >/dev/null

# --- Infrastructure-as-code tools, each in its own venv: aws-sam-cli and checkov pin ------
# conflicting boto3/botocore releases, so neither can share .venv or each other's.
for tool in iac checkov; do
  req=requirements-$tool.txt venv=.venv-$tool
  [ -f "$req" ] || continue
  TOOL_STAMP=$(stamp "$req")
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.oculus-stamp" 2>/dev/null)" != "$TOOL_STAMP" ]; then
    say "template checkers ($venv): $(grep -v '^#' "$req" | tr '\n' ' ')"
    warn_if_disk_short 1
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    pip_quiet "$venv/bin/python" -m pip install --quiet --upgrade pip==26.3
    pip_quiet "$venv/bin/pip" install --quiet -r "$req"
    echo "$TOOL_STAMP" > "$venv/.oculus-stamp"
  fi
done

# --- Python 3.12 for `sam build` (the Lambda runtime; sam needs python3.12 on PATH) ------------
# Debian 12 packages no 3.12 and there is no internet to fetch one, so take one already on the
# machine (PATH, then pyenv's versions) and link it where the tests and deploy-lambda.sh look.
# (bin/ one level down: a python next to a pyvenv.cfg would take that venv for its own)
LAMBDA_PYTHON_DIR=.venv-iac/lambda-python/bin
if [ -d .venv-iac ] && [ ! -x "$LAMBDA_PYTHON_DIR/python3.12" ]; then
  found=$(command -v python3.12 || true)
  case "$found" in */shims/*) found="" ;; esac  # a pyenv shim answers only with a version selected
  for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv; do
    [ -z "$found" ] && [ -n "$root" ] || continue
    found=$(find "$root/versions" -maxdepth 3 -path '*/3.12*/bin/python3.12' 2>/dev/null | sort -V | tail -n 1)
  done
  if [ -n "$found" ] && "$found" -m pip --version >/dev/null 2>&1; then
    mkdir -p "$LAMBDA_PYTHON_DIR"
    ln -sf "$(readlink -f "$found")" "$LAMBDA_PYTHON_DIR/python3.12"
    say "sam build: Python 3.12 is $found"
  else
    say "sam build: no Python 3.12 on this machine (the sam build test is skipped; deploy machines need one)"
  fi
fi

# --- Web app -------------------------------------------------------------------------------
if [ -f frontend/package-lock.json ]; then
  WEB_STAMP=$(stamp frontend/package-lock.json)
  if [ ! -d frontend/node_modules ] || [ "$(cat frontend/node_modules/.oculus-stamp 2>/dev/null)" != "$WEB_STAMP" ]; then
    say "web app: npm ci"
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    echo "$WEB_STAMP" > frontend/node_modules/.oculus-stamp
  fi
  BUILD_STAMP=$(find frontend -path frontend/node_modules -prune -o -path frontend/dist -prune -o -path frontend/test-results -prune -o -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
  if [ ! -f frontend/dist/index.html ] || [ "$(cat frontend/dist/.oculus-stamp 2>/dev/null)" != "$BUILD_STAMP" ]; then
    say "web app: building"
    (cd frontend && npm run build --silent)
    echo "$BUILD_STAMP" > frontend/dist/.oculus-stamp
  fi
fi

# --- Browser for the end-to-end tests (Debian's Chromium; never a downloaded browser) -------
if [ "$WANT_BROWSER" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  say "installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# --- DICOM validator for the SEG/RTSTRUCT tests (Debian's dicom3tools: dciodvfy) ------------
if ! command -v dciodvfy >/dev/null 2>&1; then
  say "installing Debian's dicom3tools (dciodvfy) for the DICOM output tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dicom3tools >/dev/null
fi
say "ready"
