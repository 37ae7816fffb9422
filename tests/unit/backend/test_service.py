"""The use cases of ``oculus_shared.service`` against in-memory fakes of the ports: state
changes (allowed and refused), idempotency, isolation between users, cursors, health. No AWS,
no moto; the same flows run on moto in tests/integration/backend."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import random
import struct

import pytest

from oculus_shared import keys, service
from oculus_shared.config import Settings
from oculus_shared.errors import (
    BadRequest,
    Conflict,
    InvalidTransition,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unprocessable,
)
from oculus_shared.jobs import JobStatus, Task
from oculus_shared.notifications import AsyncNotification

from .fakes import FakeInvoker, InMemoryBlobStore, InMemoryJobStore

SETTINGS = Settings(
    table_name="t", owner_index_name="owner-index", status_index_name="owner-status-index",
    idempotency_table_name="", idempotency_ttl_seconds=3600, bucket_name="fake-bucket", endpoint_name="e",
    max_upload_bytes=10_000, multipart_threshold_bytes=1_000, multipart_part_bytes=400,
    inline_upload_max_bytes=2_000, upload_url_ttl_seconds=600, download_url_ttl_seconds=60,
    max_active_jobs_per_user=100, max_uploads_per_user_per_day=100,
    invocation_timeout_seconds=3600, allowed_origin="*", model_index_uri="", app_version="9.9.9",
    aws_endpoint_url="",
)
ALICE, BOB = "alice-sub", "bob-sub"


def nifti_gz(extra: int = 200) -> bytes:
    header = bytearray(352)
    header[0:4] = struct.pack("<i", 348)
    header[344:348] = b"n+1\x00"
    return gzip.compress(bytes(header) + random.Random(extra).randbytes(extra))  # noise: stays big


@pytest.fixture
def b() -> service.Backend:
    return service.Backend(SETTINGS, InMemoryJobStore(), InMemoryBlobStore(), FakeInvoker())


def uploaded(b: service.Backend, owner: str = ALICE, filename: str = "ct.nii.gz") -> str:
    data = nifti_gz()
    created = service.create_upload(b, owner, filename, len(data), None)
    b.blobs.put_bytes(b.jobs.get(created["jobId"]).input["key"], data)  # the client's PUT
    job, completed_now = service.complete_upload(b, owner, created["jobId"], None)
    assert completed_now and job.status is JobStatus.UPLOADED and job.input["format"] == "nifti1-gz"
    return created["jobId"]


def queued(b: service.Backend, owner: str = ALICE) -> str:
    job_id = uploaded(b, owner)
    service.start_processing(b, owner, job_id, Task.TOTALSEG, {"fast": True})
    return job_id


def note(job_id: str, *, succeeded: bool = True, output: str | None = "s3://fake-bucket/async/out/x.out",
         failure: str | None = None) -> AsyncNotification:
    return AsyncNotification(inference_id=job_id, succeeded=succeeded, output_location=output if succeeded else None,
                             failure_location=failure, failure_reason=None if succeeded else "ClientError",
                             event_time="2026-11-22T10:00:05.608Z")


def engine_output(b: service.Backend, job_id: str, owner: str = ALICE) -> None:
    prefix = keys.results_prefix(owner, job_id)
    b.blobs.put_json("async/out/x.out", {"ok": True, "result": {"structures": 2}, "engine": {"name": "e"},
                                         "files": [{"name": "scene.glb", "key": prefix + "scene.glb", "size": 9},
                                                   {"name": "evil", "key": "uploads/other/secret"}]})


# -- uploads --------------------------------------------------------------------------------------
def test_small_declared_upload_gets_one_presigned_put_and_a_neutral_key(b):
    answer = service.create_upload(b, ALICE, "My Scan.nii.gz", 500, None)
    assert answer["ok"] is True and answer["upload"]["method"] == "PUT" and answer["upload"]["expiresIn"] == 600
    assert answer["job"]["status"] == "uploading" and answer["job"]["input"]["filename"] == "My Scan.nii.gz"
    assert b.jobs.get(answer["jobId"]).input["key"].startswith(f"uploads/{ALICE}/{answer['jobId']}/")
    assert "url" in answer["upload"] and b.blobs.objects == {}  # nothing stored until the client's PUT


def test_big_upload_is_multipart_and_completes_from_the_stored_parts(b):
    data = nifti_gz(extra=2_000)
    answer = service.create_upload(b, ALICE, "ct.nii.gz", len(data), None)
    upload = answer["upload"]
    assert upload["method"] == "multipart" and upload["partSize"] == 400
    assert [p["partNumber"] for p in upload["parts"]] == list(range(1, -(-len(data) // 400) + 1))
    for part in upload["parts"]:
        n = part["partNumber"]
        b.blobs.upload_part(upload["uploadId"], n, data[(n - 1) * 400:n * 400])
    job, _ = service.complete_upload(b, ALICE, answer["jobId"], None)
    assert job.status is JobStatus.UPLOADED and "uploadId" not in job.input and b.blobs.head(job.input["key"]).size == len(data)


def test_a_missing_part_keeps_the_upload_open(b):
    data = nifti_gz(extra=2_000)
    answer = service.create_upload(b, ALICE, "ct.nii.gz", len(data), None)
    b.blobs.upload_part(answer["upload"]["uploadId"], 1, data[:400])
    with pytest.raises(Conflict) as err:
        service.complete_upload(b, ALICE, answer["jobId"], None)
    assert err.value.code == "upload_incomplete" and b.jobs.get(answer["jobId"]).status is JobStatus.UPLOADING


def test_completing_twice_is_harmless_and_completing_a_queued_job_is_refused(b):
    job_id = uploaded(b)
    job, completed_now = service.complete_upload(b, ALICE, job_id, None)
    assert job.status is JobStatus.UPLOADED and completed_now is False
    service.start_processing(b, ALICE, job_id, Task.TOTALSEG, {})
    with pytest.raises(InvalidTransition):
        service.complete_upload(b, ALICE, job_id, None)


def test_completing_before_the_file_arrives_is_a_409_that_keeps_the_job(b):
    job_id = service.create_upload(b, ALICE, "ct.nii.gz", 300, None)["jobId"]
    with pytest.raises(Conflict) as err:
        service.complete_upload(b, ALICE, job_id, None)
    assert err.value.code == "upload_missing" and b.jobs.get(job_id).status is JobStatus.UPLOADING


@pytest.mark.parametrize(("damage", "code"), [(lambda d: b"x" * len(d), "unknown_format"),
                                              (lambda d: (gzip.compress(b"not nifti" * 50) + bytes(len(d)))[:len(d)], "format_mismatch"),
                                              (lambda d: d + b"x", "size_mismatch")])
def test_wrong_content_or_size_fails_the_job(b, damage, code):
    data = nifti_gz()
    job_id = service.create_upload(b, ALICE, "ct.nii.gz", len(data), None)["jobId"]
    b.blobs.put_bytes(b.jobs.get(job_id).input["key"], damage(data))
    with pytest.raises(Unprocessable) as err:
        service.complete_upload(b, ALICE, job_id, None)
    job = b.jobs.get(job_id)
    assert err.value.code == code and job.status is JobStatus.FAILED and job.error["code"] == code


def test_inline_upload_is_stored_sniffed_and_uploaded_at_once(b):
    data = nifti_gz()
    answer = service.create_upload(b, ALICE, "ct.nii.gz", None, base64.b64encode(data).decode())
    assert answer["upload"] == {"method": "inline"} and answer["job"]["status"] == "uploaded"
    assert answer["job"]["input"] == {"filename": "ct.nii.gz", "size": len(data), "format": "nifti1-gz"}
    assert b.blobs.objects[b.jobs.get(answer["jobId"]).input["key"]] == data


def test_inline_upload_refusals_store_nothing(b):
    for b64, size, code in (("@@@", None, "invalid_base64"), (base64.b64encode(b"junk" * 20).decode(), None, "unknown_format"),
                            (base64.b64encode(nifti_gz()).decode(), 3, "size_mismatch"),
                            (base64.b64encode(bytes(2_001)).decode(), None, "file_too_large")):
        with pytest.raises((BadRequest, Unprocessable, service.ApiError)) as err:
            service.create_upload(b, ALICE, "ct.nii.gz", size, b64)
        assert err.value.code == code
    assert b.jobs.items == {} and b.blobs.objects == {}


# -- processing -----------------------------------------------------------------------------------
def test_start_processing_queues_once_and_writes_the_manifest(b):
    job_id = uploaded(b)
    answer = service.start_processing(b, ALICE, job_id, Task.TOTALSEG, {"fast": True})
    assert answer == {"ok": True, "jobId": job_id, "status": "queued", "task": Task.TOTALSEG}
    manifest_uri = f"s3://fake-bucket/{keys.manifest_key(job_id)}"
    assert b.invoker.invocations == [(job_id, manifest_uri)]
    manifest = b.blobs.read_json_uri(manifest_uri)
    stored = b.blobs.head(f"uploads/{ALICE}/{job_id}/input.nii.gz")
    assert manifest == {"jobId": job_id, "task": "totalseg", "options": {"fast": True},
                        "input": f"s3://fake-bucket/uploads/{ALICE}/{job_id}/input.nii.gz",
                        "output": f"s3://fake-bucket/results/{ALICE}/{job_id}/",
                        "inputETag": stored.etag}  # the object checked at complete, and no other
    job = b.jobs.get(job_id)
    assert (job.status, job.task, job.options, job.stage, job.progress) == (JobStatus.QUEUED, Task.TOTALSEG, {"fast": True}, "queued", 0)
    with pytest.raises(InvalidTransition):  # a second start is refused by the conditional write
        service.start_processing(b, ALICE, job_id, Task.TOTALSEG, {"fast": False})
    assert len(b.invoker.invocations) == 1


def test_only_an_uploaded_job_can_be_queued(b):
    job_id = service.create_upload(b, ALICE, "ct.nii.gz", 300, None)["jobId"]
    with pytest.raises(InvalidTransition) as err:
        service.start_processing(b, ALICE, job_id, Task.TOTALSEG, {})
    assert err.value.status == 409 and b.invoker.invocations == []


def test_an_endpoint_that_refuses_fails_the_job_with_a_503(b):
    job_id = uploaded(b)
    b.invoker.fail = True
    with pytest.raises(ServiceUnavailable) as err:
        service.start_processing(b, ALICE, job_id, Task.TOTALSEG, {})
    job = b.jobs.get(job_id)
    assert err.value.code == "endpoint_unavailable" and job.status is JobStatus.FAILED
    assert job.error["code"] == "endpoint_unavailable"


def test_without_an_endpoint_nothing_is_queued(b):
    job_id = uploaded(b)
    b.invoker = None
    with pytest.raises(ServiceUnavailable):
        service.start_processing(b, ALICE, job_id, Task.TOTALSEG, {})
    assert b.jobs.get(job_id).status is JobStatus.UPLOADED


def test_a_task_the_input_cannot_feed_is_refused_before_any_change(b):
    job_id = uploaded(b)
    with pytest.raises(Unprocessable) as err:
        service.start_processing(b, ALICE, job_id, Task.CLASSIFY, {})
    assert err.value.code == "task_not_supported_for_input" and b.jobs.get(job_id).status is JobStatus.UPLOADED


# -- progress and results -------------------------------------------------------------------------
def test_the_engines_progress_moves_a_queued_job_to_processing(b):
    job_id = queued(b)
    assert service.job_view(b, ALICE, job_id)["status"] == "queued"
    b.blobs.put_json(keys.progress_key(ALICE, job_id), {"stage": "meshing", "percent": 140})
    view = service.job_view(b, ALICE, job_id)
    assert (view["status"], view["stage"], view["progress"]) == ("processing", "meshing", 100.0)
    assert b.jobs.get(job_id).status is JobStatus.PROCESSING


def test_the_viewers_files_published_while_the_job_runs_are_listed_and_served(b):
    job_id = queued(b)
    prefix = keys.results_prefix(ALICE, job_id)
    glb = {"name": "scene.glb", "key": prefix + "scene.glb", "size": 4, "contentType": "model/gltf-binary"}
    foreign = [
        {**glb, "name": "theirs.glb", "key": keys.results_prefix(BOB, "job-b") + "theirs.glb"},  # not this job's
        {**glb, "name": "other.glb"},  # stored under another name than it claims
        {**glb, "name": "../x.glb", "key": prefix + "../x.glb"},
        {"name": "size.glb", "key": prefix + "size.glb", "size": "4", "contentType": "model/gltf-binary"},
        "scene.glb",
    ]
    with pytest.raises(NotFound):  # nothing published yet
        service.file_url(b, ALICE, job_id, "scene.glb")
    b.blobs.put_json(keys.progress_key(ALICE, job_id), {"stage": "exporting", "percent": 80, "files": [glb, *foreign]})
    view = service.job_view(b, ALICE, job_id)
    assert view["status"] == "processing"
    # no key; its own short-lived URL, so the viewer opens it without asking GET /files first
    assert view["files"] == [{"name": "scene.glb", "size": 4, "contentType": "model/gltf-binary",
                              "url": b.blobs.presign_get(glb["key"], b.settings.download_url_ttl_seconds, "scene.glb")}]
    assert service.file_url(b, ALICE, job_id, "scene.glb")
    for name in ("theirs.glb", "other.glb", "../x.glb", "size.glb", "preview.png"):
        with pytest.raises(NotFound):
            service.file_url(b, ALICE, job_id, name)
    with pytest.raises(NotFound):  # another user's job stays invisible
        service.file_url(b, BOB, job_id, "scene.glb")
    assert b.jobs.get(job_id).files == []  # shown, not stored


@pytest.mark.parametrize("doc", [{"stage": "hacking", "percent": 5}, {"stage": "meshing", "percent": "x"}, ["meshing"]])
def test_foreign_progress_files_change_nothing(b, doc):
    job_id = queued(b)
    b.blobs.put_json(keys.progress_key(ALICE, job_id), doc)
    assert service.job_view(b, ALICE, job_id)["status"] == "queued"


def test_a_queued_job_says_the_gpu_is_waking_only_while_the_endpoint_has_no_instance(b):
    job_id = queued(b)
    assert service.job_view(b, ALICE, job_id)["stage"] == "queued"
    b.invoker.instances = 0
    assert service.job_view(b, ALICE, job_id)["stage"] == "waking_gpu"
    assert b.jobs.get(job_id).stage == "queued"  # shown, not stored


def test_success_completes_from_queued_keeps_only_the_jobs_own_files_and_duplicates_change_nothing(b):
    job_id = queued(b)
    engine_output(b, job_id)
    assert service.apply_notification(b, note(job_id)) == "completed"
    job = b.jobs.get(job_id)
    assert job.status is JobStatus.COMPLETED and [f["name"] for f in job.files] == ["scene.glb"]
    assert (job.result, job.engine, job.progress) == ({"structures": 2}, {"name": "e"}, 100)
    before = b.jobs.items[job_id].copy()
    assert service.apply_notification(b, note(job_id)) == "ignored"
    assert service.apply_notification(b, note(job_id, succeeded=False)) == "ignored"  # late, out of order
    assert b.jobs.items[job_id] == before


def test_engine_errors_fail_the_job_with_their_code_at_once(b):
    first, second = queued(b), queued(b)
    b.blobs.put_json("async/fail/1.out", {"error": {"code": "bad_volume", "message": "2D input"}})
    assert service.apply_notification(b, note(first, succeeded=False, failure="s3://fake-bucket/async/fail/1.out")) == "failed"
    assert b.jobs.get(first).error == {"code": "bad_volume", "message": "2D input"}
    assert b.jobs.get(first).retries == 0 and len(b.invoker.invocations) == 2  # never retried
    b.blobs.put_json("async/out/x.out", {"ok": False})
    assert service.apply_notification(b, note(second)) == "failed" and b.jobs.get(second).error["code"] == "output_missing"


def died(job_id: str, n: int) -> AsyncNotification:
    """SageMaker's error notification for a container that crashed: its failure object holds no
    error body of ours (here: SageMaker's own text)."""
    return note(job_id, succeeded=False, failure=f"s3://fake-bucket/async/fail/{n}-error.out")


@pytest.mark.parametrize("body", [b"", b"upstream connect error", b'{"message": "Internal Server Error"}', None])
def test_a_job_whose_engine_died_is_retried_once_then_fails_with_engine_died(b, body):
    job_id = queued(b)
    for n in (1, 2):
        if body is not None:
            b.blobs.put_bytes(f"async/fail/{n}-error.out", body)
    b.blobs.put_json(keys.progress_key(ALICE, job_id), {"stage": "segmenting", "percent": 40})
    b.jobs.transition(job_id, JobStatus.PROCESSING)
    assert service.apply_notification(b, died(job_id, 1)) == "retried"
    job = b.jobs.get(job_id)
    assert (job.status, job.retries, job.stage, job.progress, job.error) == (JobStatus.QUEUED, 1, "queued", 0, None)
    manifest_uri = f"s3://fake-bucket/{keys.manifest_key(job_id)}"
    assert b.invoker.invocations == [(job_id, manifest_uri)] * 2  # a second request for the same job
    assert b.blobs.read_json(keys.manifest_key(job_id))["task"] == "totalseg"
    assert b.blobs.read_json(keys.progress_key(ALICE, job_id)) is None  # the dead run's progress is gone
    assert service.job_view(b, ALICE, job_id)["status"] == "queued"

    assert service.apply_notification(b, died(job_id, 1)) == "ignored"  # a duplicate copy of the first death
    assert b.jobs.get(job_id).status is JobStatus.QUEUED and len(b.invoker.invocations) == 2

    assert service.apply_notification(b, died(job_id, 2)) == "failed"
    job = b.jobs.get(job_id)
    assert job.status is JobStatus.FAILED and job.error == service.ENGINE_DIED and len(b.invoker.invocations) == 2
    assert job.answer_keys == ["async/fail/1-error.out", "async/fail/2-error.out"]  # both go with the job
    for copy_of in (1, 2):
        assert service.apply_notification(b, died(job_id, copy_of)) == "ignored"


def test_a_retried_job_can_complete(b):
    job_id = queued(b)
    assert service.apply_notification(b, died(job_id, 1)) == "retried"
    engine_output(b, job_id)
    assert service.apply_notification(b, note(job_id)) == "completed"
    assert b.jobs.get(job_id).retries == 1


def test_a_retry_the_endpoint_refuses_fails_the_job_instead_of_leaving_it_queued(b):
    job_id = queued(b)
    b.invoker.fail = True
    assert service.apply_notification(b, died(job_id, 1)) == "failed"
    assert b.jobs.get(job_id).error["code"] == "endpoint_unavailable"


def test_of_two_racing_copies_of_a_death_one_retries(b):
    job_id = queued(b)
    stale = b.jobs.get(job_id)  # what the second copy read before the first one's write
    assert service.apply_notification(b, died(job_id, 1)) == "retried"
    b.jobs.get = lambda _id: stale  # the loser's view of the job
    assert service.apply_notification(b, died(job_id, 1)) == "ignored"
    del b.jobs.get
    assert b.jobs.get(job_id).retries == 1 and len(b.invoker.invocations) == 2


def test_a_death_notification_for_a_finished_or_deleted_job_starts_nothing(b):
    done = queued(b)
    engine_output(b, done)
    service.apply_notification(b, note(done))
    assert service.apply_notification(b, died(done, 1)) == "ignored"
    cancelled = queued(b)
    service.delete_job(b, ALICE, cancelled)
    assert service.apply_notification(b, died(cancelled, 1)) == "ignored"
    assert len(b.invoker.invocations) == 2 and b.jobs.get(cancelled) is None


def test_notifications_for_unknown_or_not_running_jobs_are_ignored(b):
    assert service.apply_notification(b, note("f" * 32)) == "ignored"
    job_id = uploaded(b)
    engine_output(b, job_id)
    assert service.apply_notification(b, note(job_id)) == "ignored"
    assert b.jobs.get(job_id).status is JobStatus.UPLOADED


# -- files and deletion ---------------------------------------------------------------------------
def test_file_urls_only_for_the_jobs_own_listed_files(b):
    job_id = queued(b)
    engine_output(b, job_id)
    service.apply_notification(b, note(job_id))
    url = service.file_url(b, ALICE, job_id, "scene.glb")
    assert f"results/{ALICE}/{job_id}/scene.glb" in url and "ttl=60" in url
    for name in ("evil", "report.json", "../scene.glb"):
        with pytest.raises(NotFound) as err:
            service.file_url(b, ALICE, job_id, name)
        assert err.value.code == "file_not_found"


def test_delete_removes_every_object_and_the_record(b):
    running = queued(b)
    job_id = queued(b)
    engine_output(b, job_id)
    service.apply_notification(b, note(job_id))
    b.blobs.put_bytes(keys.results_prefix(ALICE, job_id) + "scene.glb", b"glb")
    assert service.delete_job(b, ALICE, job_id) == {"ok": True, "jobId": job_id, "deleted": True}
    assert b.jobs.get(job_id) is None
    assert not [k for k in b.blobs.objects if job_id in k]
    assert "async/out/x.out" not in b.blobs.objects  # the engine's answer goes too
    assert any(running in k for k in b.blobs.objects)  # the other job's objects stay


def test_a_half_done_delete_is_finished_by_the_next_one(b):
    job_id = uploaded(b)
    b.jobs.transition(job_id, JobStatus.DELETED, owner=ALICE)  # the delete stopped after its first write
    service.delete_job(b, ALICE, job_id)
    assert b.jobs.get(job_id) is None and not [k for k in b.blobs.objects if job_id in k]


# -- isolation ------------------------------------------------------------------------------------
def test_another_users_job_is_a_404_everywhere_and_changes_nothing(b):
    job_id = queued(b)
    engine_output(b, job_id)
    service.apply_notification(b, note(job_id))
    before = json.dumps(b.jobs.items, sort_keys=True), dict(b.blobs.objects)
    attempts = (
        lambda: service.job_view(b, BOB, job_id),
        lambda: service.complete_upload(b, BOB, job_id, None),
        lambda: service.start_processing(b, BOB, job_id, Task.TOTALSEG, {}),
        lambda: service.file_url(b, BOB, job_id, "scene.glb"),
        lambda: service.delete_job(b, BOB, job_id),
    )
    for attempt in attempts:
        with pytest.raises(NotFound) as err:
            attempt()
        assert err.value.code == "job_not_found" and str(err.value) == "no such job"
    assert service.list_jobs(b, BOB, 10, None, None) == {"ok": True, "jobs": [], "nextCursor": None}
    assert (json.dumps(b.jobs.items, sort_keys=True), b.blobs.objects) == before


def test_a_deleted_job_reads_as_missing(b):
    job_id = uploaded(b)
    b.jobs.transition(job_id, JobStatus.DELETED, owner=ALICE)
    with pytest.raises(NotFound):
        service.job_view(b, ALICE, job_id)
    assert service.list_jobs(b, ALICE, 10, None, None)["jobs"] == []


# -- listing and cursors --------------------------------------------------------------------------
def test_listing_pages_newest_first_with_owner_bound_cursors(b):
    ids = [service.create_upload(b, ALICE, f"ct{i}.nii", 10, None)["jobId"] for i in range(5)]
    for i, job_id in enumerate(ids):  # distinct creation times, oldest first
        b.jobs.items[job_id]["createdAt"] = f"2026-01-01T00:00:0{i}.000Z"
    service.create_upload(b, BOB, "other.nii", 10, None)
    seen, cursor = [], None
    while True:
        page = service.list_jobs(b, ALICE, 2, cursor, None)
        seen += [j["jobId"] for j in page["jobs"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert ALICE not in cursor  # opaque
        with pytest.raises(BadRequest) as err:  # bob cannot page through alice's index
            service.list_jobs(b, BOB, 2, cursor, None)
        assert err.value.code == "invalid_cursor"
        with pytest.raises(BadRequest):  # nor replay it against a status listing
            service.list_jobs(b, ALICE, 2, cursor, "uploading")
    assert seen == ids[::-1]


def test_status_listing_and_tampered_cursors(b):
    ids = [service.create_upload(b, ALICE, f"ct{i}.nii", 10, None)["jobId"] for i in range(3)]
    for i, job_id in enumerate(ids):
        b.jobs.items[job_id]["createdAt"] = f"2026-01-01T00:00:0{i}.000Z"
    b.jobs.transition(ids[0], JobStatus.FAILED, owner=ALICE)
    page = service.list_jobs(b, ALICE, 1, None, "uploading")
    assert [j["jobId"] for j in page["jobs"]] == [ids[2]] and page["nextCursor"]
    assert [j["jobId"] for j in service.list_jobs(b, ALICE, 1, page["nextCursor"], "uploading")["jobs"]] == [ids[1]]
    assert [j["jobId"] for j in service.list_jobs(b, ALICE, 5, None, "failed")["jobs"]] == [ids[0]]
    padded = page["nextCursor"] + "=" * (-len(page["nextCursor"]) % 4)
    key = json.loads(base64.urlsafe_b64decode(padded))
    forged = base64.urlsafe_b64encode(json.dumps({**key, "ownerStatus": f"{BOB}#uploading"}).encode()).decode()
    for bad in ("@@@", page["nextCursor"][:-4], forged):
        with pytest.raises(BadRequest) as err:
            service.list_jobs(b, ALICE, 1, bad, "uploading")
        assert err.value.code == "invalid_cursor"


# -- health and model card ------------------------------------------------------------------------
def test_health_names_each_failed_dependency(b):
    report = service.health(b)
    assert report["ok"] is True and report["version"] == "9.9.9"
    assert report["checks"]["endpoint"] == {"ok": True, "status": "InService", "instances": 1,
                                            "scaledToZero": False, "healthy": True}
    b.blobs.broken, b.invoker.status = True, "Failed"
    report = service.health(b)
    assert report["ok"] is False and report["checks"]["table"] == {"ok": True}
    assert report["checks"]["bucket"] == {"ok": False, "error": "ConnectionError"}
    assert report["checks"]["endpoint"] == {"ok": False, "error": "RuntimeError"}
    b.invoker = None
    assert service.health(b)["checks"]["endpoint"]["ok"] is False


def test_model_cards_from_the_bucket_or_a_file_else_a_clear_503(b, tmp_path):
    index = {"default": "v2", "versions": ["v1", "v2"]}
    cards = {v: {"name": "brain-tumor", "version": f"2026.11.{n}", "classes": ["glioma"]} for n, v in ((1, "v1"), (2, "v2"))}
    b.blobs.put_json("models/brain_tumor/versions.json", index)
    for version, card in cards.items():
        b.blobs.put_json(f"models/brain_tumor/{version}/card.json", card)
        (tmp_path / version).mkdir()
        (tmp_path / version / "card.json").write_text(json.dumps(card))
    (tmp_path / "versions.json").write_text(json.dumps(index))
    expected = {"ok": True, "default": "v2", "versions": ["v1", "v2"], "abTest": None,
                "models": [{**cards[v], "version": v, "release": cards[v]["version"]} for v in ("v1", "v2")]}
    for uri in ("s3://fake-bucket/models/brain_tumor/versions.json", str(tmp_path / "versions.json")):
        b.settings = dataclasses.replace(SETTINGS, model_index_uri=uri)
        assert service.model_info(b) == expected
    (tmp_path / "v1" / "card.json").unlink()
    for uri in ("", str(tmp_path / "missing.json"), "s3://other-bucket/versions.json", "s3://fake-bucket/nothing.json",
                str(tmp_path / "versions.json")):  # the last: an index whose v1 card is missing
        b.settings = dataclasses.replace(SETTINGS, model_index_uri=uri)
        with pytest.raises(ServiceUnavailable) as err:
            service.model_info(b)
        assert err.value.code == "model_card_unavailable"


# -- per-user limits -------------------------------------------------------------------------------
def limited(b: service.Backend, **limits: int) -> service.Backend:
    return dataclasses.replace(b, settings=dataclasses.replace(b.settings, **limits))


def test_uploads_over_the_daily_limit_are_a_429_until_the_oldest_leaves_the_window(b):
    b = limited(b, max_uploads_per_user_per_day=2)
    first = service.create_upload(b, ALICE, "a.nii.gz", 500, None)["jobId"]
    service.create_upload(b, ALICE, "b.nii.gz", 500, None)
    with pytest.raises(TooManyRequests) as err:
        service.create_upload(b, ALICE, "c.nii.gz", 500, None)
    assert (err.value.status, err.value.code) == (429, "upload_limit_reached")
    assert 86_000 < err.value.retry_after <= 86_400  # the first upload was just now
    service.create_upload(b, BOB, "c.nii.gz", 500, None)  # another user's quota is their own
    b.jobs.items[first]["createdAt"] = "2000-01-01T00:00:00.000Z"  # the first left the window
    service.create_upload(b, ALICE, "c.nii.gz", 500, None)


def test_active_jobs_over_the_limit_are_a_429_and_a_finished_one_frees_a_place(b):
    b = limited(b, max_active_jobs_per_user=1)
    running = queued(b)
    waiting = uploaded(b)
    with pytest.raises(TooManyRequests) as err:
        service.start_processing(b, ALICE, waiting, Task.TOTALSEG, {})
    assert err.value.code == "active_job_limit_reached" and err.value.retry_after > 0
    assert b.jobs.get(waiting).status is JobStatus.UPLOADED and len(b.invoker.invocations) == 1
    service.start_processing(b, BOB, uploaded(b, BOB), Task.TOTALSEG, {})  # Bob's limit is his own
    engine_output(b, running)
    service.apply_notification(b, note(running))
    service.start_processing(b, ALICE, waiting, Task.TOTALSEG, {})
    assert b.jobs.get(waiting).status is JobStatus.QUEUED


def test_upload_urls_are_bound_to_the_declared_length(b):
    put = service.create_upload(b, ALICE, "a.nii.gz", 500, None)["upload"]
    assert put["url"].endswith("&length=500")
    parts = service.create_upload(b, ALICE, "b.nii.gz", 1_100, None)["upload"]["parts"]
    assert [p["url"].rsplit("&length=", 1)[1] for p in parts] == ["400", "400", "300"]


# -- cancellation and deadlines ------------------------------------------------------------------
def test_delete_cancels_a_running_job_and_its_late_answer_is_dropped(b):
    job_id = queued(b)
    assert service.delete_job(b, ALICE, job_id)["deleted"] is True
    assert b.jobs.get(job_id).status is JobStatus.DELETED  # a tombstone until the engine answers
    with pytest.raises(NotFound):
        service.job_view(b, ALICE, job_id)
    engine_output(b, job_id)  # the engine finishes after all
    b.blobs.put_bytes(keys.results_prefix(ALICE, job_id) + "scene.glb", b"late")
    assert service.apply_notification(b, note(job_id)) == "ignored"
    assert b.jobs.get(job_id) is None
    assert not [k for k in b.blobs.objects if job_id in k or k == "async/out/x.out"]


def test_the_sweeper_fails_jobs_past_their_stage_deadline_only(b):
    from datetime import UTC, datetime, timedelta

    stale, fresh = queued(b), queued(b)
    b.jobs.items[stale]["updatedAt"] = "2020-01-01T00:00:00.000Z"
    running = queued(b)
    b.jobs.transition(running, JobStatus.PROCESSING)
    queued_limit = service.job_deadline_seconds(SETTINGS, JobStatus.QUEUED)
    processing_limit = service.job_deadline_seconds(SETTINGS, JobStatus.PROCESSING)
    assert queued_limit > processing_limit > SETTINGS.invocation_timeout_seconds
    later = datetime.now(UTC) + timedelta(seconds=processing_limit + 60)
    assert service.sweep_stale_jobs(b, now=later) == {"timedOut": 2, "purged": 0}
    assert b.jobs.get(stale).error["code"] == "timeout" and b.jobs.get(running).status is JobStatus.FAILED
    assert b.jobs.get(fresh).status is JobStatus.QUEUED  # queued jobs get the wake-up allowance too
    engine_output(b, running)
    assert service.apply_notification(b, note(running)) == "ignored"  # a late success changes nothing
    assert b.jobs.get(running).status is JobStatus.FAILED


def test_the_sweeper_removes_tombstones_whose_answer_never_came(b):
    from datetime import UTC, datetime, timedelta

    job_id = queued(b)
    service.delete_job(b, ALICE, job_id)
    later = datetime.now(UTC) + timedelta(seconds=service.job_deadline_seconds(SETTINGS, JobStatus.QUEUED) + 1)
    assert service.sweep_stale_jobs(b, now=later) == {"timedOut": 0, "purged": 1}
    assert b.jobs.get(job_id) is None
