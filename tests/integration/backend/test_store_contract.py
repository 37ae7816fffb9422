"""The ports' contracts, checked against both implementations: the production adapters on
moto and the in-memory fakes the unit tests use (tests/unit/backend/fakes.py). When the two
disagree, the fast unit tests of ``service`` would be testing a different world."""

from __future__ import annotations

import importlib.util
import json

import pytest

from .conftest import BUCKET, ROOT, TABLE


def _fakes():
    spec = importlib.util.spec_from_file_location("oculus_backend_fakes", ROOT / "tests" / "unit" / "backend" / "fakes.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


FAKES = _fakes()


@pytest.fixture(params=["in-memory", "aws"])
def stores(request):
    if request.param == "in-memory":
        return FAKES.InMemoryJobStore(), FAKES.InMemoryBlobStore(BUCKET)
    request.getfixturevalue("aws")
    from oculus_shared.blob_store import S3BlobStore
    from oculus_shared.job_store import DynamoJobStore

    return DynamoJobStore(TABLE), S3BlobStore(BUCKET)


def _job(owner: str, created_at: str):
    from oculus_shared.jobs import Job, JobKind

    job = Job.new_upload(owner, JobKind.VOLUME, {"filename": "ct.nii", "size": 1})
    job.created_at = job.updated_at = created_at
    return job


def test_transitions_are_conditional_on_state_and_owner(stores):
    from oculus_shared.errors import InvalidTransition, NotFound
    from oculus_shared.jobs import JobStatus

    jobs, _ = stores
    job = _job("alice", "2026-01-01T00:00:00.000Z")
    jobs.put_new(job)
    with pytest.raises(NotFound):
        jobs.transition(job.job_id, JobStatus.UPLOADED, owner="bob")
    with pytest.raises(InvalidTransition):
        jobs.transition(job.job_id, JobStatus.COMPLETED, owner="alice")
    moved = jobs.transition(job.job_id, JobStatus.UPLOADED, owner="alice", updates={"input": {"format": "nifti1"}})
    assert moved.status is JobStatus.UPLOADED and moved.input == {"format": "nifti1"}
    assert jobs.transition(job.job_id, JobStatus.QUEUED).status is JobStatus.QUEUED  # a system move: no owner
    with pytest.raises(NotFound):
        jobs.transition("0" * 32, JobStatus.FAILED)
    assert jobs.get(job.job_id).status is JobStatus.QUEUED


def test_a_requeue_is_conditional_on_a_running_state_the_owner_and_the_retry_count(stores):
    from oculus_shared.errors import InvalidTransition, NotFound
    from oculus_shared.jobs import JobStatus

    jobs, _ = stores
    job = _job("alice", "2026-01-01T00:00:00.000Z")
    jobs.put_new(job)
    jobs.transition(job.job_id, JobStatus.UPLOADED)
    with pytest.raises(InvalidTransition):  # not running
        jobs.requeue(job.job_id, owner="alice", retries=0)
    jobs.transition(job.job_id, JobStatus.QUEUED)
    jobs.transition(job.job_id, JobStatus.PROCESSING)
    with pytest.raises(NotFound):
        jobs.requeue(job.job_id, owner="bob", retries=0)
    again = jobs.requeue(job.job_id, owner="alice", retries=0, updates={"retriedAfter": "s3://b/async/failures/1"})
    assert (again.status, again.retries, again.retried_after) == (JobStatus.QUEUED, 1, "s3://b/async/failures/1")
    with pytest.raises(InvalidTransition):  # a second copy that read retries == 0
        jobs.requeue(job.job_id, owner="alice", retries=0)
    listed, _ = jobs.list_by_owner("alice", limit=5, cursor=None, status=JobStatus.QUEUED)
    assert [j.job_id for j in listed] == [job.job_id] and jobs.count_active("alice") == 1
    assert jobs.get(job.job_id).retries == 1
    with pytest.raises(NotFound):
        jobs.requeue("0" * 32, owner="alice", retries=0)


def test_other_users_and_deleted_jobs_read_as_missing_and_only_deleted_ones_are_removed(stores):
    from oculus_shared.errors import NotFound
    from oculus_shared.jobs import JobStatus

    jobs, _ = stores
    job = _job("alice", "2026-01-01T00:00:00.000Z")
    jobs.put_new(job)
    assert jobs.get_owned("alice", job.job_id).job_id == job.job_id
    with pytest.raises(NotFound):
        jobs.get_owned("bob", job.job_id)
    jobs.delete(job.job_id)  # not deleted yet: kept
    assert jobs.get(job.job_id) is not None
    jobs.transition(job.job_id, JobStatus.DELETED, owner="alice")
    with pytest.raises(NotFound):
        jobs.get_owned("alice", job.job_id)
    jobs.delete(job.job_id)
    assert jobs.get(job.job_id) is None


def test_listing_pages_newest_first_with_cursors_bound_to_owner_and_status(stores):
    from oculus_shared.errors import BadRequest
    from oculus_shared.jobs import JobStatus

    jobs, _ = stores
    created = [_job("alice", f"2026-01-01T00:00:0{i}.000Z") for i in range(5)]
    for job in created:
        jobs.put_new(job)
    jobs.put_new(_job("bob", "2026-01-01T00:00:09.000Z"))
    jobs.transition(created[3].job_id, JobStatus.DELETED, owner="alice")
    seen, cursor = [], None
    while True:
        page, cursor = jobs.list_by_owner("alice", limit=2, cursor=cursor, status=None)
        seen += [j.job_id for j in page]
        if cursor is None:
            break
        with pytest.raises(BadRequest):
            jobs.list_by_owner("bob", limit=2, cursor=cursor, status=None)
        with pytest.raises(BadRequest):
            jobs.list_by_owner("alice", limit=2, cursor=cursor, status=JobStatus.UPLOADING)
    assert seen == [created[i].job_id for i in (4, 2, 1, 0)]
    page, cursor = jobs.list_by_owner("alice", limit=3, cursor=None, status=JobStatus.UPLOADING)
    assert [j.job_id for j in page] == [created[i].job_id for i in (4, 2, 1)] and cursor
    page, cursor = jobs.list_by_owner("alice", limit=3, cursor=cursor, status=JobStatus.UPLOADING)
    assert [j.job_id for j in page] == [created[0].job_id] and cursor is None


def test_blob_store_reads_missing_objects_as_none_and_stays_in_its_bucket(stores):
    _, blobs = stores
    assert blobs.head("nothing/here") is None and blobs.read_json("nothing/here") is None
    blobs.put_json("a/b/doc.json", {"x": 1})
    blobs.put_bytes("a/b/raw.bin", b"12345")
    blobs.put_bytes("a/c/other.bin", b"1")
    assert blobs.read_json_uri(f"s3://{BUCKET}/a/b/doc.json") == {"x": 1}
    assert blobs.head("a/b/raw.bin").size == 5 and blobs.read_head("a/b/raw.bin", 2) == b"12"
    assert blobs.head("a/b/raw.bin").etag == '"827ccb0eea8a706c4c34a16891f84e7b"'  # S3's: the quoted MD5
    with pytest.raises(ValueError):
        blobs.read_json_uri("s3://another-bucket/a/b/doc.json")
    blobs.put_bytes("a/b/broken.json", b"{not json")
    with pytest.raises(ValueError):
        blobs.read_json("a/b/broken.json")
    assert blobs.delete_prefix("a/b/") == 3
    assert blobs.head("a/b/raw.bin") is None and blobs.head("a/c/other.bin").size == 1
    blobs.delete_key("a/c/other.bin")
    blobs.delete_key("a/c/other.bin")  # deleting a missing object is no error
    assert blobs.head("a/c/other.bin") is None
    assert json.loads(json.dumps(blobs.start_multipart("m/k", 10, 4, 60)["parts"]))[-1]["partNumber"] == 3
    blobs.reachable()


def test_per_user_counts_see_only_the_owners_active_and_recent_jobs(stores):
    from oculus_shared.jobs import JobStatus

    jobs, _ = stores
    old = _job("alice", "2026-01-01T00:00:00.000Z")
    recent = [_job("alice", f"2026-01-02T00:00:0{i}.000Z") for i in range(3)]
    for job in (old, *recent, _job("bob", "2026-01-02T00:00:05.000Z")):
        jobs.put_new(job)
    assert jobs.created_since("alice", "2026-01-01T12:00:00.000Z", 10) == [j.created_at for j in recent]
    assert jobs.created_since("alice", "2026-01-01T12:00:00.000Z", 2) == [j.created_at for j in recent[:2]]
    assert jobs.count_active("alice") == 0
    for job, target in ((recent[0], JobStatus.QUEUED), (recent[1], JobStatus.QUEUED)):
        jobs.transition(job.job_id, JobStatus.UPLOADED, owner="alice")
        jobs.transition(job.job_id, target, owner="alice")
    jobs.transition(recent[1].job_id, JobStatus.PROCESSING, owner="alice")
    assert jobs.count_active("alice") == 2 and jobs.count_active("bob") == 0
