"""Use cases of the API and the results consumer, written against the ports
(``JobStore``, ``BlobStore``, ``Invoker``). Handlers parse, call one of these, and answer.

How a job moves once it is queued
---------------------------------
* ``queued -> processing`` is recorded lazily, by ``job_view``: the engine has no DynamoDB
  access (by design: the container needs S3 only), so the first ``GET /jobs/{jobId}`` that
  finds the engine's ``progress.json`` under the job's results prefix makes the conditional
  write. A job nobody looks at while it runs therefore stays ``queued`` until it finishes,
  and ``GET /jobs`` (which reads no progress files) shows ``queued`` for a running job.
* ``queued | processing -> completed | failed`` is the results consumer's
  (``apply_notification``): both sources are allowed, so a completion that arrives before
  anyone saw the job processing (the usual case for a short job, or an out-of-order
  notification) completes it straight from ``queued``.
* Late or duplicate notifications, and a ``GET`` racing the consumer, change nothing: every
  move is a conditional write on the current status, a finished job is terminal, and a
  refused write is reported as ``ignored`` (consumer) or re-read (``job_view``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from dataclasses import dataclass
from typing import Any

from . import keys
from .config import Settings
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unprocessable,
)
from .invoker import Invoker
from .jobs import ACTIVE_STATES, TERMINAL_STATES, Job, JobKind, JobStatus, Task, utc_now
from .notifications import AsyncNotification
from .validation import (
    SNIFF_BYTES,
    check_content,
    check_filename,
    check_size,
    check_task_for_input,
    file_type_of,
)

log = logging.getLogger(__name__)

GENERIC_ENGINE_FAILURE = {
    "code": "inference_failed",
    "message": "The processing engine could not finish this job.",
}
PROGRESS_STAGES = {"queued", "loading", "segmenting", "classifying", "meshing", "exporting", "packaging", "done"}


@dataclass
class Backend:
    settings: Settings
    jobs: Any  # JobStore
    blobs: Any  # BlobStore
    invoker: Invoker | None = None


# -- uploads --------------------------------------------------------------------------------
def create_upload(b: Backend, owner: str, filename: str, size: int | None, inline_b64: str | None) -> dict[str, Any]:
    check_filename(filename)
    file_type = file_type_of(filename)
    if inline_b64 is not None:
        return _create_inline_upload(b, owner, filename, size, inline_b64)
    if size is None:
        raise Unprocessable("declare the file size in bytes (or send a small file inline)", code="size_required")
    check_size(size, b.settings.max_upload_bytes)
    job = Job.new_upload(owner, file_type.kind, {"filename": filename, "size": size})
    key = keys.upload_key(owner, job.job_id, filename)
    job.input["key"] = key
    ttl = b.settings.upload_url_ttl_seconds
    if size > b.settings.multipart_threshold_bytes:
        multipart = b.blobs.start_multipart(key, size, b.settings.multipart_part_bytes, ttl)
        job.input["uploadId"] = multipart["uploadId"]
        job.input["partSize"] = multipart["partSize"]
        upload = {"method": "multipart", "expiresIn": ttl, **multipart}
    else:
        upload = {"method": "PUT", "url": b.blobs.presign_put(key, ttl), "expiresIn": ttl}
    b.jobs.put_new(job)
    return {"jobId": job.job_id, "job": job.public_view(), "upload": upload}


def _create_inline_upload(b: Backend, owner: str, filename: str, size: int | None, inline_b64: str) -> dict[str, Any]:
    limit = b.settings.inline_upload_max_bytes
    if len(inline_b64) > (limit * 4) // 3 + 4:
        raise PayloadTooLarge(f"inline uploads are limited to {limit} bytes; use a presigned upload")
    try:
        data = base64.b64decode(inline_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("file is not valid base64", code="invalid_base64") from exc
    if not data:
        raise Unprocessable("the file is empty", code="invalid_size")
    if len(data) > limit:
        raise PayloadTooLarge(f"inline uploads are limited to {limit} bytes; use a presigned upload")
    if size is not None and size != len(data):
        raise Unprocessable("the declared size does not match the file", code="size_mismatch")
    detected = check_content(filename, data[:SNIFF_BYTES])  # nothing is stored for bad content
    job = Job.new_upload(owner, file_type_of(filename).kind, {"filename": filename, "size": len(data)})
    key = keys.upload_key(owner, job.job_id, filename)
    job.input["key"] = key
    b.jobs.put_new(job)
    b.blobs.put_bytes(key, data)
    job = b.jobs.transition(job.job_id, JobStatus.UPLOADED, owner=owner,
                            updates={"input": {**job.input, "format": detected}})
    return {"jobId": job.job_id, "job": job.public_view(), "upload": {"method": "inline"}}


def complete_upload(
    b: Backend, owner: str, job_id: str, parts: list[dict[str, Any]] | None
) -> tuple[Job, bool]:
    """The uploaded job, and whether this call completed it (False for a repeated call)."""
    job = b.jobs.get_owned(owner, job_id)
    if job.status is JobStatus.UPLOADED:
        return job, False  # completing twice is harmless
    if job.status is not JobStatus.UPLOADING:
        raise InvalidTransition(f"the upload of a {job.status.value} job cannot be completed")
    key = job.input["key"]
    upload_id = job.input.get("uploadId")
    expected_parts = math.ceil(job.input["size"] / job.input.get("partSize", 1))
    if upload_id and not b.blobs.complete_multipart(key, upload_id, parts, expected_parts):
        if b.blobs.size_of(key) is None:  # not an earlier completion being retried
            raise Conflict("the multipart upload is missing parts", code="upload_incomplete")
    stored = b.blobs.size_of(key)
    if stored is None:
        raise Conflict("the file has not been uploaded yet", code="upload_missing")
    try:
        if stored != job.input["size"]:
            raise Unprocessable(
                f"the stored file has {stored} bytes, {job.input['size']} were declared", code="size_mismatch"
            )
        detected = check_content(job.input["filename"], b.blobs.read_head(key, SNIFF_BYTES))
    except Unprocessable as exc:
        b.jobs.transition(job_id, JobStatus.FAILED, owner=owner, updates={"error": exc.to_dict()})
        raise
    new_input = {k: v for k, v in job.input.items() if k not in ("uploadId", "partSize")}
    new_input["format"] = detected
    return b.jobs.transition(job_id, JobStatus.UPLOADED, owner=owner, updates={"input": new_input}), True


# -- processing -----------------------------------------------------------------------------
def build_manifest(bucket: str, job: Job, task: Task, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "jobId": job.job_id,
        "task": task.value,
        "input": keys.s3_uri(bucket, job.input["key"]),
        "output": keys.s3_uri(bucket, keys.results_prefix(job.owner, job.job_id)),
        "options": options,
    }


def start_processing(b: Backend, owner: str, job_id: str, task: Task, options: dict[str, Any]) -> dict[str, Any]:
    job = b.jobs.get_owned(owner, job_id)
    check_task_for_input(job.input["filename"], task)
    if b.invoker is None:
        raise ServiceUnavailable("no processing endpoint is configured", code="endpoint_unavailable")
    kind = JobKind.VOLUME if task is Task.TOTALSEG else JobKind.IMAGE
    job = b.jobs.transition(  # the conditional write: only an uploaded job is queued, once
        job_id, JobStatus.QUEUED, owner=owner,
        updates={"task": task.value, "options": options, "kind": kind.value, "stage": "queued", "progress": 0},
    )
    manifest_key = keys.manifest_key(job_id)
    try:
        b.blobs.put_json(manifest_key, build_manifest(b.blobs.bucket, job, task, options))
        b.invoker.invoke(job_id, keys.s3_uri(b.blobs.bucket, manifest_key))
    except Exception as exc:
        log.exception("could not queue the job on the endpoint")
        error = {"code": "endpoint_unavailable", "message": "The processing service could not accept the job."}
        b.jobs.transition(job_id, JobStatus.FAILED, owner=owner, updates={"error": error})
        raise ServiceUnavailable(error["message"], code=error["code"]) from exc
    return {"jobId": job_id, "status": JobStatus.QUEUED.value, "task": task.value}


# -- reading --------------------------------------------------------------------------------
def _read_progress(b: Backend, job: Job) -> dict[str, Any] | None:
    try:
        doc = b.blobs.read_json(keys.progress_key(job.owner, job.job_id))
    except ValueError:  # half-written or foreign content: report nothing rather than fail
        return None
    if not isinstance(doc, dict) or doc.get("stage") not in PROGRESS_STAGES:
        return None
    try:
        percent = max(0.0, min(100.0, float(doc.get("percent", 0))))
    except (TypeError, ValueError):
        return None
    return {"stage": doc["stage"], "percent": percent}


def job_view(b: Backend, owner: str, job_id: str) -> dict[str, Any]:
    job = b.jobs.get_owned(owner, job_id)
    if job.status in ACTIVE_STATES:
        progress = _read_progress(b, job)
        if progress:
            if job.status is JobStatus.QUEUED:
                try:  # the engine has started: record it (a concurrent move wins)
                    job = b.jobs.transition(job_id, JobStatus.PROCESSING, owner=owner)
                except InvalidTransition:
                    job = b.jobs.get_owned(owner, job_id)
            if job.status is JobStatus.PROCESSING:
                job.stage, job.progress = progress["stage"], progress["percent"]
        elif job.status is JobStatus.QUEUED and _endpoint_scaled_to_zero(b):
            job.stage = "waking_gpu"  # shown, not stored: the backlog alarm is starting an instance
    return job.public_view()


def _endpoint_scaled_to_zero(b: Backend) -> bool:
    """True when the GPU endpoint has no instance right now (a queued job waits minutes)."""
    if b.invoker is None:
        return False
    try:
        return bool(b.invoker.endpoint_state().get("scaledToZero"))
    except Exception:  # noqa: BLE001 - the stage is a hint; never fail GET /jobs/{id} for it
        return False


def list_jobs(b: Backend, owner: str, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]:
    wanted = JobStatus(status) if status else None
    jobs, next_cursor = b.jobs.list_by_owner(owner, limit=limit, cursor=cursor, status=wanted)
    return {"jobs": [j.public_view() for j in jobs], "nextCursor": next_cursor}


def file_url(b: Backend, owner: str, job_id: str, name: str) -> str:
    job = b.jobs.get_owned(owner, job_id)
    entry = next((f for f in job.files if f.get("name") == name), None)
    prefix = keys.results_prefix(owner, job_id)
    if entry is None or not keys.is_under(str(entry.get("key", "")), prefix):
        raise NotFound("the job has no such file", code="file_not_found")
    return b.blobs.presign_get(entry["key"], b.settings.download_url_ttl_seconds, name.rsplit("/", 1)[-1])


def delete_job(b: Backend, owner: str, job_id: str) -> None:
    job = b.jobs.get(job_id)
    if job is None or job.owner != owner:
        raise NotFound("no such job", code="job_not_found")
    if job.status is not JobStatus.DELETED:  # a deleted job is a cleanup left half done: redo it
        if job.status in ACTIVE_STATES:
            raise Conflict("the job is being processed; delete it when it has finished", code="job_busy")
        job = b.jobs.transition(job_id, JobStatus.DELETED, owner=owner)
    if job.input.get("uploadId"):
        b.blobs.abort_multipart(job.input["key"], job.input["uploadId"])
    b.blobs.delete_prefix(keys.upload_prefix(owner, job_id))
    b.blobs.delete_prefix(keys.results_prefix(owner, job_id))
    b.blobs.delete_prefix(keys.manifest_key(job_id))
    b.jobs.delete(job_id)


# -- results consumer -----------------------------------------------------------------------
def _checked_files(job: Job, files: Any) -> list[dict[str, Any]]:
    prefix = keys.results_prefix(job.owner, job.job_id)
    checked = []
    for f in files if isinstance(files, list) else []:
        if isinstance(f, dict) and isinstance(f.get("name"), str) and keys.is_under(str(f.get("key", "")), prefix):
            checked.append({k: f.get(k) for k in ("name", "key", "size", "contentType")})
    return checked


def _engine_error(b: Backend, note: AsyncNotification) -> dict[str, str]:
    if not note.failure_location:
        return dict(GENERIC_ENGINE_FAILURE)
    try:
        body = b.blobs.read_json_uri(note.failure_location)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str):
        return {"code": error["code"], "message": error["message"]}
    return dict(GENERIC_ENGINE_FAILURE)


def apply_notification(b: Backend, note: AsyncNotification) -> str:
    """Move the job to completed/failed, from ``queued`` or ``processing`` alike (nobody may
    have looked at the job while it ran, so it may never have been marked processing).
    Returns what happened: ``completed``, ``failed``, or ``ignored`` (unknown job, or one
    that already finished: duplicates and late out-of-order notifications change nothing)."""
    job = b.jobs.get(note.inference_id)
    if job is None or job.status in TERMINAL_STATES or job.status not in ACTIVE_STATES:
        return "ignored"
    updates: dict[str, Any]
    target = JobStatus.FAILED
    if note.succeeded:
        output = b.blobs.read_json_uri(note.output_location or "")
        if isinstance(output, dict) and output.get("ok") is True:
            target = JobStatus.COMPLETED
            updates = {
                "result": output.get("result") or {},
                "files": _checked_files(job, output.get("files")),
                "engine": output.get("engine"),
                "timings": output.get("timings") or {},
                "stage": "done",
                "progress": 100,
            }
        elif isinstance(output, dict) and isinstance(output.get("error"), dict):
            updates = {"error": {"code": str(output["error"].get("code", "inference_failed")),
                                 "message": str(output["error"].get("message", ""))}}
        else:
            updates = {"error": {"code": "output_missing", "message": "The engine's answer could not be read."}}
    else:
        updates = {"error": _engine_error(b, note)}
    if target is JobStatus.FAILED:
        updates.update(stage="failed", progress=100)
    updates["finishedAt"] = utc_now()
    try:
        b.jobs.transition(job.job_id, target, owner=job.owner, updates=updates)
    except (InvalidTransition, NotFound):
        return "ignored"  # a concurrent notification got there first
    return target.value


__all__ = [
    "ApiError",
    "Backend",
    "apply_notification",
    "complete_upload",
    "create_upload",
    "delete_job",
    "file_url",
    "job_view",
    "list_jobs",
    "start_processing",
]
