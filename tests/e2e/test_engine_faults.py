"""Engine faults on the running local stack: a killed inference server is restarted and its job
completes; a deflate bomb fails alone with a code while the engine keeps serving."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bombs = _load("bombs", Path(__file__).parents[1] / "bombs.py")
_stack = _load("e2e_local_stack_helpers", Path(__file__).with_name("test_local_stack.py"))
call, dump, upload, wait_for_final_state = _stack.call, _stack.dump, _stack.upload, _stack.wait_for_final_state


def _state(stack) -> dict:
    return json.loads((Path(stack.env["OCULUS_LOCAL_STATE_DIR"]) / "state.json").read_text())


def _start(stack, token: str, filename: str, content: bytes, task: str) -> str:
    job_id = upload(stack, token, filename, content)
    assert call(stack, "POST", f"/upload/{job_id}/complete", token).status_code == 200
    body = {"jobId": job_id, "device": "cpu"} if task == "totalseg" else {"jobId": job_id}
    started = call(stack, "POST", f"/process/{task}", token, json=body)
    assert started.status_code == 202, dump(started)
    return job_id


def test_a_job_whose_engine_was_killed_completes_after_the_restart(local_stack, demo_token, shared_data):
    job_id = _start(local_stack, demo_token, "example_ct_sm.nii.gz",
                    (shared_data / "ct" / "example_ct_sm.nii.gz").read_bytes(), "totalseg")
    before = _state(local_stack)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill it once the engine has started on the job
        job = call(local_stack, "GET", f"/jobs/{job_id}", demo_token).json()["job"]
        if job["status"] != "queued":
            break
        time.sleep(0.2)
    assert job["status"] == "processing", job
    os.kill(before["inferencePid"], signal.SIGKILL)
    job = wait_for_final_state(local_stack, demo_token, job_id)
    assert job["status"] == "completed", job
    after = _state(local_stack)
    assert after["inferenceRestarts"] >= 1 and after["inferencePid"] != before["inferencePid"]


def test_a_deflate_bomb_fails_alone_with_a_code(local_stack, demo_token, tmp_path, shared_data):
    bomb = bombs.write_deflated_dicom_bomb(tmp_path / "slice.dcm", 2 * 1024**3)
    bad = _start(local_stack, demo_token, "slice.dcm", bomb.read_bytes(), "classify")
    good = _start(local_stack, demo_token, "slice.jpg",
                  next((shared_data / "brain-mri" / "Training" / "glioma").iterdir()).read_bytes(), "classify")
    failed = wait_for_final_state(local_stack, demo_token, bad)
    assert failed["status"] == "failed" and failed["error"]["code"] == "decompression_bomb", failed
    assert wait_for_final_state(local_stack, demo_token, good)["status"] == "completed"
