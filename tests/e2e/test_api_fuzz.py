"""schemathesis (pinned in requirements-dev.txt) fuzzes docs/openapi.yaml against the running
local stack: no operation may answer a 5xx, whatever the body, content type or parameters.

Two bounded runs (a fixed seed, a few examples per operation, a time budget each: about two
minutes in all on two cores), each as a user of its own because uploads count against a
per-user daily limit:

1. every phase, stateful included, with generated ids (the job routes answer 404);
2. coverage and fuzzing with ``jobId`` bound to a real, completed job the test creates, so the
   routes that otherwise only ever see unknown ids run on a job that exists (DELETE left out:
   the first one would take the job away from the rest of the run).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 12
MAX_TIME_S = 60


def _new_user(stack) -> str:
    email, password = f"fuzz-{uuid.uuid4().hex[:8]}@oculus.local", "Fuzz-user-Passw0rd"
    added = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "oculus-local"), "add-user", email, password],
                           env=stack.env, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    return stack.sign_in(email, password)


def _completed_job(stack, token: str, image: Path) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    created = requests.post(stack.api + "/upload", headers=headers, timeout=60,
                            json={"filename": "slice.jpg", "file": base64.b64encode(image.read_bytes()).decode()})
    assert created.status_code == 201, created.text
    job_id = created.json()["jobId"]
    started = requests.post(stack.api + "/process/classify", headers=headers, json={"jobId": job_id}, timeout=60)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = requests.get(f"{stack.api}/jobs/{job_id}", headers=headers, timeout=60).json()["job"]
        if job["status"] in ("completed", "failed"):
            assert job["status"] == "completed", job
            return job_id
        time.sleep(1)
    pytest.fail(f"the classification job {job_id} did not finish")


def _schemathesis(stack, token: str, workdir: Path, *extra: str) -> str:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    config = [f"--config-file={workdir / 'schemathesis.toml'}"] if (workdir / "schemathesis.toml").exists() else []
    done = subprocess.run(
        [st, *config, "run", str(REPO_ROOT / "docs" / "openapi.yaml"), "--url", stack.api + "/",
         "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error",
         "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_TIME_S), "--seed", "11",
         "--workers", "1", "--request-timeout", "30", "--no-color", "--warnings", "off",
         "--generation-database", "none", *extra],
        capture_output=True, text=True, timeout=MAX_TIME_S + 240, cwd=workdir,
    )
    summary = "\n".join(done.stdout.splitlines()[-30:])
    print(summary)
    assert done.returncode == 0, summary + done.stderr[-2000:]
    assert "No issues found" in done.stdout, summary
    return done.stdout


def test_no_operation_answers_a_server_error(local_stack, tmp_path):
    _schemathesis(local_stack, _new_user(local_stack), tmp_path, "--phases", "examples,coverage,fuzzing,stateful")


def test_no_operation_on_an_existing_job_answers_a_server_error(local_stack, tmp_path, shared_data):
    token = _new_user(local_stack)
    job_id = _completed_job(local_stack, token, next((shared_data / "brain-mri" / "Training" / "glioma").iterdir()))
    (tmp_path / "schemathesis.toml").write_text(f'[parameters]\n"path.jobId" = "{job_id}"\n')
    _schemathesis(local_stack, token, tmp_path, "--phases", "coverage,fuzzing", "--exclude-method", "DELETE")
