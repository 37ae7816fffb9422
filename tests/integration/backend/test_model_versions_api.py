"""Classifier versions through the real handlers on moto: GET /model-info from the published
index and cards, POST /process/classify with and without ``modelVersion`` (the A/B split set by
the template's parameters), the version recorded in the job and sent to the engine, and the
engine's answer with its verdict fields served back unchanged."""

from __future__ import annotations

import json

import pytest

from .conftest import BUCKET
from .test_lifecycle import expect_invocation, notes, uploaded_job  # noqa: F401 - notes is a fixture

INDEX_URI = f"s3://{BUCKET}/models/brain_tumor/versions.json"


@pytest.fixture
def published(aws, monkeypatch, two_model_versions):
    """The two-version models folder published as deploy does (versions.json, <version>/card.json)."""
    from oculus_shared import wiring

    for doc in [two_model_versions / "versions.json", *sorted(two_model_versions.glob("*/card.json"))]:
        key = f"models/brain_tumor/{doc.relative_to(two_model_versions).as_posix()}"
        aws.s3.put_object(Bucket=BUCKET, Key=key, Body=doc.read_bytes())
    monkeypatch.setenv("MODEL_INDEX_URI", INDEX_URI)
    wiring.reset()
    return json.loads((two_model_versions / "versions.json").read_text())


def _ab_test(monkeypatch, candidate: str, share: int) -> None:
    from oculus_shared import wiring

    monkeypatch.setenv("CLASSIFIER_CANDIDATE_VERSION", candidate)
    monkeypatch.setenv("CLASSIFIER_CANDIDATE_SHARE", str(share))
    wiring.reset()


def _manifest_options(aws, job_id: str) -> dict:
    return json.loads(aws.s3.get_object(Bucket=BUCKET, Key=f"async/requests/{job_id}.json")["Body"].read())["options"]


def test_model_info_lists_every_version_with_its_card_and_the_default(api, published, monkeypatch):
    answer = api.call("GET", "/model-info")
    assert answer.status == 200, answer.raw
    body = answer.json
    assert body["default"] == published["default"] and body["versions"] == published["versions"]
    assert body["abTest"] is None
    assert [m["version"] for m in body["models"]] == published["versions"]
    assert all(m["classes"] and m["release"] and "validation" in m for m in body["models"])
    _ab_test(monkeypatch, "candidate", 25)
    assert api.call("GET", "/model-info").json["abTest"] == {"candidate": "candidate", "share": 25}


def test_a_requested_version_is_recorded_and_sent_to_the_engine(api, aws, samples, published):
    job_id = uploaded_job(api, samples, "slice.jpg")
    expect_invocation(aws, job_id)
    answer = api.call("POST", "/process/classify", body={"jobId": job_id, "modelVersion": "candidate"})
    assert answer.status == 202, answer.raw
    expected = {"modelVersion": "candidate", "modelVersionChoice": "requested"}
    assert _manifest_options(aws, job_id) == expected
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["options"] == expected


def test_an_unknown_version_is_a_422_naming_the_versions_and_queues_nothing(api, aws, samples, published):
    job_id = uploaded_job(api, samples, "slice.jpg")
    answer = api.call("POST", "/process/classify", body={"jobId": job_id, "modelVersion": "v999"})
    assert answer.status == 422 and answer.error_code == "unknown_model_version"
    assert "candidate" in answer.json["error"]["message"] and published["default"] in answer.json["error"]["message"]
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "uploaded"
    malformed = api.call("POST", "/process/classify", body={"jobId": job_id, "modelVersion": "../v1"})
    assert malformed.status == 422 and malformed.error_code == "validation_error"


@pytest.mark.parametrize(("share", "expected"), [(100, ("candidate", "candidate")), (0, (None, "default"))])
def test_the_ab_share_routes_jobs_without_a_version(api, aws, samples, published, monkeypatch, share, expected):
    _ab_test(monkeypatch, "candidate", share)
    job_id = uploaded_job(api, samples, "slice.jpg")
    expect_invocation(aws, job_id)
    assert api.call("POST", "/process/classify", body={"jobId": job_id}).status == 202
    options = _manifest_options(aws, job_id)
    version = expected[0] or published["default"]
    assert (options["modelVersion"], options["modelVersionChoice"]) == (version, expected[1])


def test_the_engines_answer_comes_back_with_its_verdict_and_version(api, aws, samples, published, notes):  # noqa: F811
    job_id = uploaded_job(api, samples, "slice.jpg")
    expect_invocation(aws, job_id)
    api.call("POST", "/process/classify", body={"jobId": job_id, "modelVersion": "candidate"})
    result = {
        "is_tumor": False, "predicted_class": "no_tumor", "confidence": 0.658,
        "probabilities": {"glioma": 0.01, "meningioma": 0.32, "no_tumor": 0.658, "pituitary": 0.012},
        "recommendation": "Uncertain — needs review: no tumour (66 %) or a meningioma (32 %).",
        "inconclusive": True, "model": {"name": "oculus-brain-tumor", "version": "candidate"},
        "verdict": "needs_review", "reason": "below the calibrated no-tumour threshold",
        "top2": [{"class": "no_tumor", "probability": 0.658}, {"class": "meningioma", "probability": 0.32}],
        "ood": {"score": 0.1},  # a field the API does not declare still comes through
    }
    notes.publish_success(job_id, {"ok": True, "jobId": job_id, "task": "classify", "result": result, "files": [],
                                   "engine": {"name": "classifier", **result["model"]}})
    assert notes.deliver() == {"batchItemFailures": []}
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert job["status"] == "completed" and job["result"] == result
    assert job["engine"]["version"] == "candidate"
