"""What a second user, a replayed request and a greedy user see, through the real handlers on
moto: every idempotent route's replay by another user is the 404 of a missing job; presigned
URLs live exactly as long as configured and PUTs are bound to the declared length; per-user
limits answer 429 with Retry-After."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from .test_lifecycle import Notifications, engine_success, expect_invocation, uploaded_job

MISSING = "0" * 32


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def same_as_missing(api, method: str, path: str, job_id: str, body: dict | None = None) -> None:
    theirs = api.call(method, path, user="bob", body=body)
    nothing = api.call(method, path.replace(job_id, MISSING), user="bob",
                       body=body and {**body, "jobId": MISSING})
    assert theirs.status == 404 and theirs.json == nothing.json, (method, path, theirs.raw)


def test_another_users_replay_of_each_idempotent_request_is_a_404(api, aws, samples):
    job_id = uploaded_job(api, samples, user="alice")  # alice's complete has run
    same_as_missing(api, "POST", f"/upload/{job_id}/complete", job_id)
    expect_invocation(aws, job_id)
    body = {"jobId": job_id, "fast": True}
    assert api.call("POST", "/process/totalseg", user="alice", body=body).status == 202
    same_as_missing(api, "POST", "/process/totalseg", job_id, body)  # not alice's cached 202
    same_as_missing(api, "GET", f"/jobs/{job_id}", job_id)
    same_as_missing(api, "DELETE", f"/jobs/{job_id}", job_id)
    assert api.call("GET", f"/jobs/{job_id}", user="alice").json["job"]["status"] == "queued"
    assert api.call("DELETE", f"/jobs/{job_id}", user="alice").status == 200
    same_as_missing(api, "DELETE", f"/jobs/{job_id}", job_id)  # the replay after alice's delete


def test_presigned_urls_live_as_configured_and_puts_are_bound_to_the_declared_length(api, aws, samples, handlers):
    put = api.call("POST", "/upload", body={"filename": "ct.nii.gz", "size": 1234}).json["upload"]
    q = query_of(put["url"])
    assert (q["X-Amz-Expires"], put["expiresIn"]) == ("3600", 3600)
    assert "content-length" in q["X-Amz-SignedHeaders"].split(";")  # S3 refuses another length
    parts = api.call("POST", "/upload", body={"filename": "big.nii", "size": 150 * 1024 * 1024}).json["upload"]["parts"]
    for part in parts:
        q = query_of(part["url"])
        assert q["X-Amz-Expires"] == "3600" and "content-length" in q["X-Amz-SignedHeaders"].split(";")

    job_id = uploaded_job(api, samples)
    expect_invocation(aws, job_id)
    assert api.call("POST", "/process/totalseg", body={"jobId": job_id}).status == 202
    notes = Notifications(aws, handlers)
    notes.publish_success(job_id, engine_success(job_id))
    notes.deliver()
    redirect = api.call("GET", f"/files/{job_id}/scene.glb")
    assert redirect.status == 302 and query_of(redirect.headers["Location"])["X-Amz-Expires"] == "300"
    direct = api.call("GET", f"/files/{job_id}/scene.glb", query={"redirect": "false"}).json
    assert query_of(direct["url"])["X-Amz-Expires"] == "300" and direct["expiresIn"] == 300


@pytest.fixture
def limits(monkeypatch, aws):
    from oculus_shared import wiring

    monkeypatch.setenv("MAX_UPLOADS_PER_USER_PER_DAY", "2")
    monkeypatch.setenv("MAX_ACTIVE_JOBS_PER_USER", "1")
    wiring.reset()
    yield
    monkeypatch.undo()
    wiring.reset()


def test_a_user_over_the_daily_upload_limit_gets_a_429_with_retry_after(api, limits):
    for name in ("a.nii.gz", "b.nii.gz"):
        assert api.call("POST", "/upload", body={"filename": name, "size": 100}).status == 201
    over = api.call("POST", "/upload", body={"filename": "c.nii.gz", "size": 100})
    assert over.status == 429 and over.error_code == "upload_limit_reached", over.raw
    assert "24 hours" in over.json["error"]["message"]
    assert 86_000 < int(over.headers["Retry-After"]) <= 86_400
    assert "Retry-After" in over.headers.get("Access-Control-Expose-Headers", "")  # the web app may read it
    assert api.call("POST", "/upload", user="bob", body={"filename": "c.nii.gz", "size": 100}).status == 201


def test_a_user_over_the_active_job_limit_gets_a_429_and_nothing_is_queued(api, aws, samples, limits):
    first, second = uploaded_job(api, samples), uploaded_job(api, samples)
    expect_invocation(aws, first)
    assert api.call("POST", "/process/totalseg", body={"jobId": first}).status == 202
    over = api.call("POST", "/process/totalseg", body={"jobId": second})
    assert over.status == 429 and over.error_code == "active_job_limit_reached", over.raw
    assert int(over.headers["Retry-After"]) == 60
    aws.stub("sagemaker-runtime").assert_no_pending_responses()  # no second invocation was made
    assert api.call("GET", f"/jobs/{second}").json["job"]["status"] == "uploaded"
