"""The inference server's real code path against S3 served by moto's server on 127.0.0.1."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from oculus.server import create_app

BUCKET = "oculus-test-data"


@pytest.fixture(scope="module")
def moto_s3(monkeypatch_module):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch_module.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch_module.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch_module.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import oculus.storage

    monkeypatch_module.setattr(oculus.storage, "_client", None)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    yield s3
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def client(moto_s3):
    with TestClient(create_app()) as test_client:
        yield test_client


def _manifest(job_id: str, task: str, key: str, **options) -> dict:
    return {
        "jobId": job_id,
        "task": task,
        "input": f"s3://{BUCKET}/{key}",
        "output": f"s3://{BUCKET}/results/owner-1/{job_id}/",
        "options": options,
    }


def test_ping_reports_engines(client):
    response = client.get("/ping")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["segmentation"]["threshold"] is True


def test_mesh_job_writes_results_and_progress(client, moto_s3, shared_data):
    key = "uploads/owner-1/job-mesh/example_seg.nii.gz"
    moto_s3.upload_file(str(shared_data / "ct" / "example_seg.nii.gz"), BUCKET, key)

    response = client.post("/invocations", json=_manifest("job-mesh", "mesh", key, reduction_percent=50))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["jobId"] == "job-mesh"
    assert body["engine"]["name"] == "labels"
    assert body["result"]["structures"] == 41
    names = {f["name"] for f in body["files"]}
    assert {"scene.obj", "scene.mtl", "scene.glb", "report.json", "preview.png", "result.zip"} <= names
    for entry in body["files"]:
        head = moto_s3.head_object(Bucket=BUCKET, Key=entry["key"])
        assert head["ContentLength"] == entry["size"]
        assert entry["key"].startswith("results/owner-1/job-mesh/")
    zipped = moto_s3.get_object(Bucket=BUCKET, Key="results/owner-1/job-mesh/result.zip")["Body"].read()
    assert "report.json" in zipfile.ZipFile(BytesIO(zipped)).namelist()
    progress = json.loads(
        moto_s3.get_object(Bucket=BUCKET, Key="results/owner-1/job-mesh/progress.json")["Body"].read()
    )
    assert progress["stage"] == "done" and progress["percent"] == 100


def test_not_a_scan_fails_the_job_and_the_server_keeps_serving(client, moto_s3):
    key = "uploads/owner-1/job-bad/notes.nii.gz"
    moto_s3.put_object(Bucket=BUCKET, Key=key, Body=b"this is a shopping list, not a scan\n" * 10)

    response = client.post("/invocations", json=_manifest("job-bad", "totalseg", key, engine="threshold"))

    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["ok"] is False and body["jobId"] == "job-bad"
    assert body["error"]["code"] in ("not_a_scan", "truncated_file", "unsupported_format")
    assert body["error"]["message"]
    failed = json.loads(
        moto_s3.get_object(Bucket=BUCKET, Key="results/owner-1/job-bad/progress.json")["Body"].read()
    )
    assert failed["stage"] == "failed"
    assert client.get("/ping").status_code == 200


def test_missing_input_is_a_clear_error(client):
    response = client.post("/invocations", json=_manifest("job-gone", "totalseg", "uploads/owner-1/job-gone/x.nii.gz"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "input_missing"


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"jobId": "../etc", "task": "totalseg", "input": "s3://b/k", "output": "s3://b/o/"},
        {"jobId": "j1", "task": "format-disk", "input": "s3://b/k", "output": "s3://b/o/"},
        {"jobId": "j1", "task": "totalseg", "input": "/etc/passwd", "output": "s3://b/o/"},
    ],
)
def test_malformed_manifests_are_refused(client, body):
    response = client.post("/invocations", json=body)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == "invalid_manifest"


def test_body_that_is_not_json(client):
    response = client.post("/invocations", content=b"\x00\x01not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_manifest"


def test_invalid_options_fail_with_field_message(client, moto_s3, shared_data):
    key = "uploads/owner-1/job-opt/example_seg.nii.gz"
    moto_s3.upload_file(str(shared_data / "ct" / "example_seg.nii.gz"), BUCKET, key)
    response = client.post("/invocations", json=_manifest("job-opt", "mesh", key, reduction_percent=150))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_options"
    assert "reduction_percent" in response.json()["error"]["message"]


def test_classify_job_writes_prediction_and_image(client, moto_s3, shared_data):
    image = sorted((shared_data / "brain-mri" / "Training" / "pituitary").glob("*.jpg"))[0]
    key = "uploads/owner-1/job-cls/slice.jpg"
    moto_s3.upload_file(str(image), BUCKET, key)
    response = client.post("/invocations", json=_manifest("job-cls", "classify", key))
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert set(result["probabilities"]) == {"glioma", "meningioma", "no_tumor", "pituitary"}
    assert {f["name"] for f in response.json()["files"]} == {"prediction.json", "image.png"}


def test_classify_job_with_a_broken_image_fails_with_a_code(client, moto_s3):
    key = "uploads/owner-1/job-cls-bad/slice.jpg"
    moto_s3.put_object(Bucket=BUCKET, Key=key, Body=b"\xff\xd8\xff\xe0 truncated jpeg")
    response = client.post("/invocations", json=_manifest("job-cls-bad", "classify", key))
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] and response.json()["error"]["message"]
