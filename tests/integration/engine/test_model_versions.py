"""Classifier versions side by side through the inference server's real code path (S3 served by
moto on 127.0.0.1, each job in its own process) and through the CLI, against a models folder
that serves two versions (the ``two_model_versions`` fixture, not whichever versions ship)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

BUCKET = "oculus-test-versions"


@pytest.fixture(scope="module")
def engine_env(monkeypatch_module, two_model_versions):
    monkeypatch_module.setenv("OCULUS_CLASSIFIER_MODELS", str(two_model_versions))


@pytest.fixture(scope="module")
def default_version(two_model_versions):
    return json.loads((two_model_versions / "versions.json").read_text())["default"]


def _classify(client, moto_s3, image, job_id: str, **options):
    key = f"uploads/owner-1/{job_id}/slice.jpg"
    moto_s3.upload_file(str(image), BUCKET, key)
    return client.post("/invocations", json={
        "jobId": job_id, "task": "classify", "input": f"s3://{BUCKET}/{key}",
        "output": f"s3://{BUCKET}/results/owner-1/{job_id}/", "options": options})


@pytest.fixture(scope="module")
def image(shared_data):
    return sorted((shared_data / "brain-mri" / "Training" / "meningioma").glob("*.jpg"))[0]


def test_model_info_lists_every_version_and_the_default(client, default_version):
    body = client.get("/model-info").json()
    assert body["ok"] is True and body["default"] == default_version
    assert [v["version"] for v in body["versions"]] == [default_version, "candidate"]
    assert all(v["format"] == "onnx" and v["classes"] for v in body["versions"])
    ping = client.get("/ping").json()
    assert ping["classifier"]["default"] == default_version and len(ping["classifier"]["versions"]) == 2


def test_a_job_answers_with_the_version_it_names_and_records_it(client, moto_s3, image):
    response = _classify(client, moto_s3, image, "job-v-cand", modelVersion="candidate")
    assert response.status_code == 200, response.text
    assert response.json()["result"]["model"]["version"] == "candidate"
    assert response.json()["engine"]["version"] == "candidate"
    prediction = moto_s3.get_object(Bucket=BUCKET, Key="results/owner-1/job-v-cand/prediction.json")["Body"].read()
    assert json.loads(prediction)["model"]["version"] == "candidate"


def test_without_a_version_the_default_answers(client, moto_s3, image, default_version):
    response = _classify(client, moto_s3, image, "job-v-default")
    assert response.status_code == 200, response.text
    assert response.json()["result"]["model"]["version"] == default_version


def test_an_unknown_version_fails_the_job_with_a_4xx_naming_the_versions(client, moto_s3, image, default_version):
    response = _classify(client, moto_s3, image, "job-v-unknown", modelVersion="v999")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unknown_model_version"
    assert "candidate" in error["message"] and default_version in error["message"]


def test_the_cli_classifies_with_the_version_it_is_given(two_model_versions, image):
    env = {**os.environ, "OCULUS_CLASSIFIER_MODELS": str(two_model_versions)}

    def oculus(*args):
        return subprocess.run([sys.executable, "-m", "oculus.cli", "classify", str(image), *args],
                              capture_output=True, text=True, timeout=300, env=env)

    answered = oculus("--model-version", "candidate", "--json")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["model"]["version"] == "candidate"
    unknown = oculus("--model-version", "v999")
    assert unknown.returncode == 3 and "unknown_model_version" in unknown.stderr + unknown.stdout
