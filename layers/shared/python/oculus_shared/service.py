"""Use cases of the API and the results consumer, written against the ports in ``ports``
(``JobStore``, ``BlobStore``, ``Invoker``). Handlers parse, call one of these, and answer with
the body it returns (declared in ``responses``).

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
* An error notification without the engine's own error body (the engine died: crash,
  invocation timeout, a 5xx from outside our code) re-queues the job once (``queued`` again,
  ``retries`` 1, a new manifest and invocation); the next death fails it with ``engine_died``.
  An error the engine reported itself (e.g. ``not_a_scan``) is final at once.
* Late or duplicate notifications, and a ``GET`` racing the consumer, change nothing: every
  move is a conditional write on the current status, a finished job is terminal, and a
  refused write is reported as ``ignored`` (consumer) or re-read (``job_view``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import keys
from .aws import error_code
from .config import Settings
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unprocessable,
)
from .jobs import ACTIVE_STATES, TERMINAL_STATES, Job, JobKind, JobStatus, Task, utc_now
from .model_versions import choose_version, default_version, parse_index
from .notifications import AsyncNotification
from .ports import BlobStore, Invoker, JobStore
from .responses import (
    DependencyCheck,
    Health,
    JobDeleted,
    JobList,
    JobView,
    ModelInfo,
    ProcessAccepted,
    UploadCreated,
)
from .validation import (
    SNIFF_BYTES,
    check_content,
    check_filename,
    check_size,
    check_task_for_input,
    file_type_of,
)

log = logging.getLogger(__name__)

PROGRESS_STAGES = {"queued", "loading", "segmenting", "classifying", "meshing", "exporting", "packaging", "done"}


@dataclass
class Backend:
    settings: Settings
    jobs: JobStore
    blobs: BlobStore
    invoker: Invoker | None = None


# -- per-user limits ------------------------------------------------------------------------
UPLOAD_WINDOW = timedelta(days=1)
#: what a user over the active-job limit is told to wait: jobs take minutes, not seconds
ACTIVE_JOBS_RETRY_AFTER_SECONDS = 60


def _parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def check_upload_quota(b: Backend, owner: str) -> None:
    """At most ``max_uploads_per_user_per_day`` uploads in any 24 hours; over it, a 429 whose
    Retry-After is when the oldest upload of the window leaves it. A soft limit: two requests
    racing at the edge may both pass (the API stage's throttling is the hard global guard)."""
    limit = b.settings.max_uploads_per_user_per_day
    now = datetime.now(UTC)
    since = _iso_before(now, int(UPLOAD_WINDOW.total_seconds()))
    created = b.jobs.created_since(owner, since, limit)
    if len(created) >= limit:
        wait = (_parse_time(created[0]) + UPLOAD_WINDOW - now).total_seconds()
        raise TooManyRequests(
            f"you have started {limit} uploads in the last 24 hours, the most allowed; try again later",
            code="upload_limit_reached", retry_after=math.ceil(wait),
        )


def check_active_jobs(b: Backend, owner: str) -> None:
    """At most ``max_active_jobs_per_user`` jobs queued or processing per user (soft, as above)."""
    limit = b.settings.max_active_jobs_per_user
    if b.jobs.count_active(owner) >= limit:
        raise TooManyRequests(
            f"you already have {limit} jobs queued or processing, the most allowed; start this one when one finishes",
            code="active_job_limit_reached", retry_after=ACTIVE_JOBS_RETRY_AFTER_SECONDS,
        )


# -- uploads --------------------------------------------------------------------------------
def create_upload(b: Backend, owner: str, filename: str, size: int | None, inline_b64: str | None) -> UploadCreated:
    check_filename(filename)
    file_type = file_type_of(filename)
    check_upload_quota(b, owner)
    if inline_b64 is not None:
        return _create_inline_upload(b, owner, filename, size, inline_b64)
    if size is None:
        raise Unprocessable("declare the file size in bytes (or send a small file inline)", code="size_required")
    check_size(size, b.settings.max_upload_bytes)
    job = Job.new_upload(owner, file_type.kind, {"filename": filename, "size": size})
    key = keys.upload_key(owner, job.job_id, file_type.extension)
    job.input["key"] = key
    ttl = b.settings.upload_url_ttl_seconds
    if size > b.settings.multipart_threshold_bytes:
        multipart = b.blobs.start_multipart(key, size, b.settings.multipart_part_bytes, ttl)
        job.input["uploadId"] = multipart["uploadId"]
        job.input["partSize"] = multipart["partSize"]
        upload: Any = {"method": "multipart", "expiresIn": ttl, **multipart}
    else:
        upload = {"method": "PUT", "url": b.blobs.presign_put(key, ttl, size), "expiresIn": ttl}
    b.jobs.put_new(job)
    return {"ok": True, "jobId": job.job_id, "job": job.public_view(), "upload": upload}


def _create_inline_upload(b: Backend, owner: str, filename: str, size: int | None, inline_b64: str) -> UploadCreated:
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
    file_type = file_type_of(filename)
    job = Job.new_upload(owner, file_type.kind, {"filename": filename, "size": len(data)})
    key = keys.upload_key(owner, job.job_id, file_type.extension)
    job.input["key"] = key
    b.jobs.put_new(job)
    b.blobs.put_bytes(key, data)
    job = b.jobs.transition(job.job_id, JobStatus.UPLOADED, owner=owner,
                            updates={"input": {**job.input, "format": detected}})
    return {"ok": True, "jobId": job.job_id, "job": job.public_view(), "upload": {"method": "inline"}}


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
        if b.blobs.head(key) is None:  # not an earlier completion being retried
            raise Conflict("the multipart upload is missing parts", code="upload_incomplete")
    stored = b.blobs.head(key)
    if stored is None:
        raise Conflict("the file has not been uploaded yet", code="upload_missing")
    try:
        if stored.size != job.input["size"]:
            raise Unprocessable(
                f"the stored file has {stored.size} bytes, {job.input['size']} were declared", code="size_mismatch"
            )
        detected = check_content(job.input["filename"], b.blobs.read_head(key, SNIFF_BYTES))
    except Unprocessable as exc:
        b.jobs.transition(job_id, JobStatus.FAILED, owner=owner, updates={"error": exc.to_dict()})
        raise
    new_input = {k: v for k, v in job.input.items() if k not in ("uploadId", "partSize")}
    new_input["format"] = detected
    # The upload URL stays valid after this check: the engine reads the object only while it
    # still has this ETag, so a later overwrite fails the job (upload_changed) instead.
    new_input["etag"] = stored.etag
    return b.jobs.transition(job_id, JobStatus.UPLOADED, owner=owner, updates={"input": new_input}), True


# -- processing -----------------------------------------------------------------------------
def build_manifest(bucket: str, job: Job, task: Task, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "jobId": job.job_id,
        "task": task.value,
        "input": keys.s3_uri(bucket, job.input["key"]),
        "output": keys.s3_uri(bucket, keys.results_prefix(job.owner, job.job_id)),
        "options": options,
        **({"inputETag": job.input["etag"]} if job.input.get("etag") else {}),
    }


def start_processing(b: Backend, owner: str, job_id: str, task: Task, options: dict[str, Any]) -> ProcessAccepted:
    job = b.jobs.get_owned(owner, job_id)
    check_task_for_input(job.input["filename"], task)
    if b.invoker is None:
        raise ServiceUnavailable("no processing endpoint is configured", code="endpoint_unavailable")
    if job.status is JobStatus.UPLOADED:  # any other state is refused by the transition below
        check_active_jobs(b, owner)
    if task is Task.CLASSIFY:  # once per job; retries re-send these options, so the same version answers
        choice = choose_version(job_id, options.get("modelVersion"), b.settings.classifier_policy, model_index(b))
        options = {**options, **choice.options()}
    kind = JobKind.VOLUME if task is Task.TOTALSEG else JobKind.IMAGE
    job = b.jobs.transition(  # the conditional write: only an uploaded job is queued, once
        job_id, JobStatus.QUEUED, owner=owner,
        updates={"task": task.value, "options": options, "kind": kind.value, "stage": "queued", "progress": 0},
    )
    try:
        _send_to_endpoint(b, job)
    except Exception as exc:
        log.exception("could not queue the job on the endpoint")
        error = dict(ENDPOINT_REFUSED)
        b.jobs.transition(job_id, JobStatus.FAILED, owner=owner, updates={"error": error})
        raise ServiceUnavailable(error["message"], code=error["code"]) from exc
    return {"ok": True, "jobId": job_id, "status": "queued", "task": task}


ENDPOINT_REFUSED = {"code": "endpoint_unavailable", "message": "The processing service could not accept the job."}


def _send_to_endpoint(b: Backend, job: Job) -> None:
    """Write the queued job's manifest and queue it on the endpoint (raises when either fails)."""
    if b.invoker is None or job.task is None:
        raise ServiceUnavailable("no processing endpoint is configured", code="endpoint_unavailable")
    manifest_key = keys.manifest_key(job.job_id)
    b.blobs.put_json(manifest_key, build_manifest(b.blobs.bucket, job, job.task, job.options))
    b.invoker.invoke(job.job_id, keys.s3_uri(b.blobs.bucket, manifest_key))


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
    return {"stage": doc["stage"], "percent": percent, "files": _early_files(doc.get("files"), job)}


def _early_files(files: object, job: Job) -> list[dict[str, Any]]:
    """The result files the engine published before the end (the 3D viewer's): each an object
    stored exactly at its name under this job's results prefix; anything else is left out."""
    prefix = keys.results_prefix(job.owner, job.job_id)
    if not isinstance(files, list):
        return []
    return [
        {"name": f["name"], "key": f["key"], "size": f.get("size"), "contentType": f.get("contentType")}
        for f in files
        if isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("key"), str)
        and f["key"] == prefix + f["name"] and keys.is_under(f["key"], prefix)
        and isinstance(f.get("size"), int) and isinstance(f.get("contentType"), str)
    ]


def job_view(b: Backend, owner: str, job_id: str) -> JobView:
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
                # shown, not stored: the 3D viewer opens them at once, through their own URLs
                job.files = [{**f, "url": _presigned_get(b, f["key"], f["name"])} for f in progress["files"]]
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


def list_jobs(b: Backend, owner: str, limit: int, cursor: str | None, status: str | None) -> JobList:
    wanted = JobStatus(status) if status else None
    jobs, next_cursor = b.jobs.list_by_owner(owner, limit=limit, cursor=cursor, status=wanted)
    return {"ok": True, "jobs": [j.public_view() for j in jobs], "nextCursor": next_cursor}


def file_url(b: Backend, owner: str, job_id: str, name: str) -> str:
    job = b.jobs.get_owned(owner, job_id)
    files = job.files
    if job.status in ACTIVE_STATES:  # a running job's files published so far (job_view)
        files = (_read_progress(b, job) or {}).get("files", [])
    entry = next((f for f in files if f.get("name") == name), None)
    prefix = keys.results_prefix(owner, job_id)
    if entry is None or not keys.is_under(str(entry.get("key", "")), prefix):
        raise NotFound("the job has no such file", code="file_not_found")
    return _presigned_get(b, entry["key"], name)


def _presigned_get(b: Backend, key: str, name: str) -> str:
    """A short-lived GET of a result file, saved under its own file name (``stl/liver.stl``: liver.stl)."""
    return b.blobs.presign_get(key, b.settings.download_url_ttl_seconds, name.rsplit("/", 1)[-1])


def delete_job(b: Backend, owner: str, job_id: str) -> JobDeleted:
    job = b.jobs.get(job_id)
    if job is None or job.owner != owner:
        raise NotFound("no such job", code="job_not_found")
    cancelled = False
    if job.status is not JobStatus.DELETED:  # a deleted job is a cleanup left half done: redo it
        # A queued or running job is cancelled: the engine may still answer, so its record stays
        # as a ``deleted`` tombstone that the results consumer (or the sweeper) removes later.
        cancelled = job.status in ACTIVE_STATES
        job = b.jobs.transition(job_id, JobStatus.DELETED, owner=owner)
    _remove_objects(b, job)
    if not cancelled:
        b.jobs.delete(job_id)
    return {"ok": True, "jobId": job_id, "deleted": True}


def _remove_objects(b: Backend, job: Job, extra_keys: list[str] = ()) -> None:
    if job.input.get("uploadId"):
        b.blobs.abort_multipart(job.input["key"], job.input["uploadId"])
    b.blobs.delete_prefix(keys.upload_prefix(job.owner, job.job_id))
    b.blobs.delete_prefix(keys.results_prefix(job.owner, job.job_id))
    b.blobs.delete_prefix(keys.manifest_key(job.job_id))
    for key in [*job.answer_keys, *extra_keys]:
        b.blobs.delete_key(key)


# -- deadlines (the scheduled sweeper) --------------------------------------------------------
#: after the invocation timeout: the engine's own answer, SNS -> SQS and the consumer
DEADLINE_GRACE_SECONDS = 600
TIMEOUT_ERROR = {"code": "timeout", "message": "The job did not finish within its time limit and was stopped."}


def job_deadline_seconds(settings: Settings, status: JobStatus) -> int:
    """How long a job may stay in ``status`` (since its last change) before the sweeper fails it.

    ``processing``: the endpoint's invocation timeout plus the grace for its answer to arrive.
    ``queued``: the same plus the endpoint waking from zero instances, because ``processing``
    is recorded lazily (a job nobody looks at runs while still ``queued``).
    """
    processing = settings.invocation_timeout_seconds + DEADLINE_GRACE_SECONDS
    return processing if status is JobStatus.PROCESSING else settings.wake_up_seconds + processing


def sweep_stale_jobs(b: Backend, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Fail every queued/processing job past its deadline with ``timeout`` (a conditional write:
    one that finished meanwhile is left alone), and remove cancelled jobs' tombstones whose
    late answer never came. Returns how many of each."""
    now = now or datetime.now(UTC)
    timed_out = purged = 0
    for status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        for job in b.jobs.list_stale(status, _iso_before(now, job_deadline_seconds(b.settings, status)), limit):
            try:
                b.jobs.transition(job.job_id, JobStatus.FAILED, updates={
                    "error": dict(TIMEOUT_ERROR), "stage": "failed", "progress": 100, "finishedAt": utc_now()})
            except (InvalidTransition, NotFound):
                continue
            log.info("job timed out", extra={"job_id": job.job_id, "status": status.value})
            timed_out += 1
    tombstone_age = job_deadline_seconds(b.settings, JobStatus.QUEUED)
    for job in b.jobs.list_stale(JobStatus.DELETED, _iso_before(now, tombstone_age), limit):
        _remove_objects(b, job)
        b.jobs.delete(job.job_id)
        purged += 1
    return {"timedOut": timed_out, "purged": purged}


def _iso_before(now: datetime, seconds: int) -> str:
    return (now - timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- health and models ----------------------------------------------------------------------
def _check(name: str, probe: Callable[[], dict[str, Any] | None]) -> DependencyCheck:
    try:
        return {"ok": True, **(probe() or {})}  # type: ignore[typeddict-item]
    except Exception as exc:  # noqa: BLE001 - a failed dependency is reported, not raised
        reason = error_code(exc) or type(exc).__name__
        log.warning("health check failed", extra={"check": name, "error_code": reason})
        return {"ok": False, "error": reason}


def _endpoint_check(b: Backend) -> dict[str, Any]:
    if b.invoker is None:
        raise RuntimeError("EndpointNotConfigured")
    state = b.invoker.endpoint_state()
    if not state["healthy"]:
        raise RuntimeError(state["status"])
    return state


def health(b: Backend) -> Health:
    """Liveness plus dependency checks; ``ok`` is False when any dependency failed."""
    checks = {
        "table": _check("table", b.jobs.reachable),
        "bucket": _check("bucket", b.blobs.reachable),
        "endpoint": _check("endpoint", lambda: _endpoint_check(b)),
    }
    return {"ok": all(c["ok"] for c in checks.values()), "version": b.settings.app_version,
            "checks": checks}  # type: ignore[typeddict-item]


def _read_model_doc(uri: str, b: Backend) -> Any:
    """A published model document (``s3://`` in the data bucket, or a local file), None when unreadable."""
    try:
        if uri.startswith("s3://"):
            return b.blobs.read_json_uri(uri)
        return json.loads(Path(uri).read_text()) if uri else None
    except Exception as exc:  # noqa: BLE001 - an unreadable document is reported by the caller, its reason logged
        log.warning("model document unreadable", extra={"error_code": error_code(exc) or type(exc).__name__})
        return None


def model_index(b: Backend) -> dict[str, Any] | None:
    """The classifier versions the engine serves, ``{default, versions}`` (``MODEL_INDEX_URI``),
    or None when the index is unreadable."""
    return parse_index(_read_model_doc(b.settings.model_index_uri, b))


def model_info(b: Backend) -> ModelInfo:
    """Every served classifier version with its card, the default and any A/B test."""
    index = model_index(b)
    if index is None:
        raise ServiceUnavailable("the model index is not available", code="model_card_unavailable")
    folder = b.settings.model_index_uri.rsplit("/", 1)[0]
    models = []
    for version in index["versions"]:  # each card lies in <version>/ beside the index
        card = _read_model_doc(f"{folder}/{version}/card.json", b)
        if not isinstance(card, dict):
            raise ServiceUnavailable(f"the model card of {version} is not available", code="model_card_unavailable")
        models.append({**card, "version": version, "release": card.get("version")})
    policy = b.settings.classifier_policy
    return {"ok": True, "default": default_version(policy, index), "versions": index["versions"],
            "abTest": policy.describe(), "models": models}


# -- results consumer -----------------------------------------------------------------------
def _checked_files(job: Job, files: Any) -> list[dict[str, Any]]:
    prefix = keys.results_prefix(job.owner, job.job_id)
    checked = []
    for f in files if isinstance(files, list) else []:
        if isinstance(f, dict) and isinstance(f.get("name"), str) and keys.is_under(str(f.get("key", "")), prefix):
            checked.append({k: f.get(k) for k in ("name", "key", "size", "contentType")})
    return checked


def _engine_reported_error(b: Backend, note: AsyncNotification) -> dict[str, str] | None:
    """The engine's own refusal (``{ok: false, error: {code, message}}`` at the failure location),
    or None when there is none: the engine died without answering."""
    if not note.failure_location:
        return None
    try:
        body = b.blobs.read_json_uri(note.failure_location)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str):
        return {"code": error["code"], "message": error["message"]}
    return None


def _answer_keys(b: Backend, note: AsyncNotification) -> list[str]:
    """The engine's answer objects in our bucket's async/ area, so DELETE can remove them."""
    found = []
    for uri in (note.output_location, note.failure_location):
        try:
            bucket, key = keys.parse_s3_uri(uri or "")
        except ValueError:
            continue
        if bucket == b.blobs.bucket and keys.is_under(key, keys.ASYNC_PREFIX):
            found.append(key)
    return found


def apply_notification(b: Backend, note: AsyncNotification) -> str:
    """Move the job to completed/failed, from ``queued`` or ``processing`` alike (nobody may
    have looked at the job while it ran, so it may never have been marked processing).
    Returns what happened: ``completed``, ``failed``, ``retried`` (the engine died: see
    ``_engine_died``), or ``ignored`` (unknown job, or one that already finished: duplicates
    and late out-of-order notifications change nothing)."""
    job = b.jobs.get(note.inference_id)
    if job is not None and job.status is JobStatus.DELETED:
        # cancelled while it ran: drop what the engine wrote since, and the tombstone
        _remove_objects(b, job, _answer_keys(b, note))
        b.jobs.delete(job.job_id)
        return "ignored"
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
        error = _engine_reported_error(b, note)
        if error is None:
            return _engine_died(b, job, note)
        updates = {"error": error}
    return _finish(b, job, target, updates, note)


def _finish(b: Backend, job: Job, target: JobStatus, updates: dict[str, Any], note: AsyncNotification) -> str:
    """The conditional move to ``target`` that ends the job (``ignored`` when it lost a race)."""
    if target is JobStatus.FAILED:
        updates.update(stage="failed", progress=100)
    updates["answerKeys"] = list(dict.fromkeys([*job.answer_keys, *_answer_keys(b, note)]))
    updates["finishedAt"] = utc_now()
    try:
        b.jobs.transition(job.job_id, target, owner=job.owner, updates=updates)
    except (InvalidTransition, NotFound):
        return "ignored"  # a concurrent notification got there first
    return target.value


#: re-queues of a job whose engine died without an answer; the next death fails it
MAX_ENGINE_RETRIES = 1
ENGINE_DIED = {
    "code": "engine_died",
    "message": "The processing engine stopped while running this job, twice; "
               "the scan may be too large or malformed for it.",
}


def _engine_died(b: Backend, job: Job, note: AsyncNotification) -> str:
    """An error notification without the engine's own error body: the container crashed, the
    invocation timed out, or a 5xx came from outside our code. The first death re-queues the
    job (a new manifest and invocation); the next one fails it with ``engine_died``. A second
    copy of the death that was retried (same failure/output location) changes nothing."""
    death = note.failure_location or note.output_location or note.event_time or ""
    log.warning("the engine died on a job", extra={"job_id": job.job_id, "retries": job.retries,
                                                   "reason": (note.failure_reason or "")[:300]})
    if job.retries and death and death == job.retried_after:
        return "ignored"
    if job.retries >= MAX_ENGINE_RETRIES:
        return _finish(b, job, JobStatus.FAILED, {"error": dict(ENGINE_DIED)}, note)
    try:
        job = b.jobs.requeue(job.job_id, owner=job.owner, retries=job.retries, updates={
            "retriedAfter": death, "stage": "queued", "progress": 0,
            "answerKeys": list(dict.fromkeys([*job.answer_keys, *_answer_keys(b, note)]))})
    except (InvalidTransition, NotFound):
        return "ignored"  # a concurrent copy of this notification re-queued it, or it finished
    # the dead run's partial outputs and progress.json go before the new run can write any
    b.blobs.delete_prefix(keys.results_prefix(job.owner, job.job_id))
    try:
        _send_to_endpoint(b, job)
    except Exception:  # noqa: BLE001 - the job fails with a code instead of staying queued
        log.exception("could not queue the retry on the endpoint", extra={"job_id": job.job_id})
        return _finish(b, job, JobStatus.FAILED, {"error": dict(ENDPOINT_REFUSED)}, note)
    return "retried"


__all__ = [
    "ApiError",
    "Backend",
    "apply_notification",
    "complete_upload",
    "create_upload",
    "delete_job",
    "file_url",
    "health",
    "job_view",
    "list_jobs",
    "model_info",
    "start_processing",
    "sweep_stale_jobs",
]
