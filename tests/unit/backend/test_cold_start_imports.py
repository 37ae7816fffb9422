"""What each handler imports on a cold start (fresh interpreters): with tracing off no X-Ray
SDK; no boto3 until a request needs it; no pydantic where no route validates input; never a
heavy library. With tracing on, the real Powertools Tracer, patching botocore only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "layers" / "shared" / "python"
PROBE = ("aws_xray_sdk", "boto3", "pydantic", "numpy", "nibabel", "tensorflow", "torch")


def _loaded(handler: str, statement: str = "import app", **env: str) -> dict:
    code = f"import sys, json\n{statement}\nprint(json.dumps({{m: m in sys.modules for m in {PROBE!r}}}))"
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_TASK_ROOT"))}
    run_env.update({"PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas" / handler), str(LAYER)]),
                    "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "t", "BUCKET_NAME": "b", **env})
    done = subprocess.run([sys.executable, "-c", code], env=run_env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("handler", ["upload", "process", "jobs", "health", "results"])
def test_cold_start_imports_with_tracing_off(handler):
    loaded = _loaded(handler, POWERTOOLS_TRACE_DISABLED="true")
    assert not any(loaded[m] for m in ("aws_xray_sdk", "boto3", "numpy", "nibabel", "tensorflow", "torch")), loaded
    assert loaded["pydantic"] is (handler in ("upload", "process", "jobs")), loaded


def test_tracing_on_uses_the_powertools_tracer_patching_botocore_only():
    statement = ("import app\nfrom aws_lambda_powertools import Tracer\nassert isinstance(app.tracer, Tracer)\n"
                 "assert not app.tracer.disabled")
    loaded = _loaded("results", statement, POWERTOOLS_TRACE_DISABLED="false", LAMBDA_TASK_ROOT=str(ROOT))
    assert loaded["aws_xray_sdk"]
    code = (f"import sys; sys.path[:0] = [{str(LAYER)!r}]\nfrom oculus_shared.tracing import PATCHED_MODULES, make_tracer\n"
            "t = make_tracer(); print(type(t).__name__, PATCHED_MODULES, 'httpx' in sys.modules)")
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "false", "LAMBDA_TASK_ROOT": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["Tracer", "('botocore',)", "False"]
