"""A client's whole journey through the running local stack, over HTTP only: sign in, upload
a real CT through the presigned URL, segment it, follow progress, download the ZIP; a bad
file fails with a readable code; another user sees none of it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
JOB_TIMEOUT_S = 900  # the threshold engine takes well under a minute; two shared cores vary
TOTALSEG_FILES = {"scene.obj", "scene.mtl", "scene.glb", "segmentation.nii.gz", "report.json", "preview.png"}


def dump(response: requests.Response) -> str:
    try:
        return json.dumps(response.json())
    except ValueError:
        return response.text[:500]


def call(stack, method: str, path: str, token: str | None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, stack.api + path, headers=headers, timeout=60, **kwargs)


def upload(stack, token: str, filename: str, content: bytes) -> str:
    """POST /upload, PUT to the presigned URL, complete; returns the job id."""
    created = call(stack, "POST", "/upload", token, json={"filename": filename, "size": len(content)})
    assert created.status_code == 201, dump(created)
    answer = created.json()
    assert answer["upload"]["method"] == "PUT"
    put = requests.put(answer["upload"]["url"], data=content, timeout=120)
    assert put.status_code == 200, put.text[:300]
    return answer["jobId"]


def wait_for_final_state(stack, token: str, job_id: str) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    seen_progress = []
    while time.monotonic() < deadline:
        response = call(stack, "GET", f"/jobs/{job_id}", token)
        assert response.status_code == 200, dump(response)
        job = response.json()["job"]
        seen_progress.append((job["status"], job.get("progress")))
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(1)
    pytest.fail(f"job {job_id} did not finish in {JOB_TIMEOUT_S} s; last states {seen_progress[-5:]}\n"
                + "\n".join(list(stack.log)[-40:]))


@pytest.fixture(scope="session")
def finished_ct_job(local_stack, demo_token, shared_data) -> tuple[str, dict]:
    content = (shared_data / "ct" / "example_ct_sm.nii.gz").read_bytes()
    job_id = upload(local_stack, demo_token, "example_ct_sm.nii.gz", content)
    completed = call(local_stack, "POST", f"/upload/{job_id}/complete", demo_token)
    assert completed.status_code == 200, dump(completed)
    assert completed.json()["job"]["status"] == "uploaded"
    started = call(local_stack, "POST", "/process/totalseg", demo_token,
                   json={"jobId": job_id, "device": "cpu", "reduction_percent": 90})
    assert started.status_code == 202, dump(started)
    return job_id, wait_for_final_state(local_stack, demo_token, job_id)


def test_healthz_needs_no_token_and_sees_every_dependency(local_stack):
    response = requests.get(local_stack.api + "/healthz", timeout=30)
    assert response.status_code == 200, dump(response)
    assert set(response.json()["checks"]) >= {"table", "bucket", "endpoint"}


def test_protected_routes_refuse_missing_and_forged_tokens(local_stack, demo_token):
    missing = call(local_stack, "GET", "/jobs", None)
    assert missing.status_code == 401
    assert missing.json()["ok"] is False
    header, payload, signature = demo_token.split(".")
    forged = call(local_stack, "GET", "/jobs", f"{header}.{payload}.{signature[::-1]}")
    assert forged.status_code == 401


def test_cors_preflight_answers_the_web_origin(local_stack):
    response = requests.options(local_stack.api + "/jobs", timeout=10, headers={
        "Origin": local_stack.outputs["WebUrl"], "Access-Control-Request-Method": "GET"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == local_stack.outputs["WebUrl"]


def test_ct_scan_is_segmented_and_result_zip_downloads(local_stack, demo_token, finished_ct_job):
    job_id, job = finished_ct_job
    assert job["status"] == "completed", json.dumps(job)
    assert job["progress"] == 100
    names = {f["name"] for f in job["files"]}
    assert TOTALSEG_FILES | {"result.zip"} <= names

    download = call(local_stack, "GET", f"/files/{job_id}/result.zip", demo_token, allow_redirects=False)
    assert download.status_code == 302, dump(download)
    zipped = requests.get(download.headers["Location"], timeout=60)
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        members = set(archive.namelist())
        assert TOTALSEG_FILES <= members, members
        report = json.loads(archive.read("report.json"))
    assert report["structures"], report
    assert job["result"]["structures"] == len(report["structures"])


def test_a_file_that_is_not_a_scan_is_refused_with_a_readable_code(local_stack, demo_token):
    job_id = upload(local_stack, demo_token, "notes.nii.gz", b"these are my notes, not a CT scan\n" * 20)
    completed = call(local_stack, "POST", f"/upload/{job_id}/complete", demo_token)
    assert completed.status_code == 422, dump(completed)
    job = call(local_stack, "GET", f"/jobs/{job_id}", demo_token).json()["job"]
    assert job["status"] == "failed"
    assert job["error"]["code"] == "unknown_format"


def test_an_archive_without_a_scan_fails_in_the_engine_with_a_readable_code(local_stack, demo_token):
    # A real ZIP passes the upload sniff; only the engine finds no DICOM in it, so this job
    # fails through SageMaker's error topic, SQS and the results consumer.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no images in here")
    job_id = upload(local_stack, demo_token, "series.zip", buffer.getvalue())
    assert call(local_stack, "POST", f"/upload/{job_id}/complete", demo_token).status_code == 200
    started = call(local_stack, "POST", "/process/totalseg", demo_token, json={"jobId": job_id, "device": "cpu"})
    assert started.status_code == 202, dump(started)
    job = wait_for_final_state(local_stack, demo_token, job_id)
    assert job["status"] == "failed"
    code = job["error"]["code"]
    assert code and code != "internal_error" and job["error"]["message"], job["error"]


def test_another_user_cannot_see_or_download_the_job(local_stack, finished_ct_job):
    job_id, _ = finished_ct_job
    email, password = f"other-{uuid.uuid4().hex[:8]}@oculus.local", "Other-user-Passw0rd"
    added = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "oculus-local"), "add-user", email, password],
                           env=local_stack.env, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    other = local_stack.sign_in(email, password)
    assert call(local_stack, "GET", f"/jobs/{job_id}", other).status_code == 404
    download = call(local_stack, "GET", f"/files/{job_id}/result.zip", other, allow_redirects=False)
    assert download.status_code == 404
    listed = call(local_stack, "GET", "/jobs", other)
    assert listed.status_code == 200
    assert job_id not in {j["jobId"] for j in listed.json()["jobs"]}
