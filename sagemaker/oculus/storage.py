"""S3 access for the inference server: fetch the input, publish results and progress.

The container needs S3 only (no DynamoDB, no internet). boto3 honours ``AWS_ENDPOINT_URL``,
which is how the local stack points it at moto.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from .errors import InputError

COPY_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InputError(f"expected an s3://bucket/key location, got {uri!r}", code="invalid_manifest")
        return cls(parsed.netloc, parsed.path.lstrip("/"))

    def child(self, name: str) -> S3Location:
        prefix = self.key if self.key.endswith("/") or not self.key else self.key + "/"
        return S3Location(self.bucket, prefix + name)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def check_job_locations(job_id: str, source: S3Location, output: S3Location) -> None:
    """The engine reads and writes only what the job owns: ``uploads/{owner}/{jobId}/…`` in,
    ``results/{owner}/{jobId}/`` out (the same owner), in the data bucket ``OCULUS_BUCKET``
    (the container's setting; without it the bucket is not checked, the prefixes still are)."""
    bucket = os.environ.get("OCULUS_BUCKET")
    if bucket and {source.bucket, output.bucket} != {bucket}:
        raise _not_owned("input and output must be in the data bucket")
    src = source.key.split("/")
    out = output.key.rstrip("/").split("/")
    if (len(src) < 4 or src[0] != "uploads" or src[2] != job_id or not src[-1]
            or any(part in ("", ".", "..") for part in src[1:])):
        raise _not_owned("input must be the job's own upload (uploads/{owner}/{jobId}/…)")
    if len(out) != 3 or out[0] != "results" or out[1] != src[1] or out[2] != job_id:
        raise _not_owned("output must be the job's own results prefix (results/{owner}/{jobId}/)")


def _not_owned(message: str) -> InputError:
    error = InputError(message, code="location_not_allowed")
    error.http_status = 403
    return error


_client_lock = threading.Lock()
_client = None


def s3_client():
    """One boto3 S3 client per process, created lazily (boto3 import costs ~0.3 s)."""
    global _client
    with _client_lock:
        if _client is None:
            import boto3

            _client = boto3.client("s3")
        return _client


def download(location: S3Location, dest_dir: Path, if_match: str | None = None) -> Path:
    """Download an S3 object into dest_dir, keeping only its base name. With ``if_match`` (the
    ETag the API checked at upload completion) an object changed since is refused."""
    from botocore.exceptions import ClientError

    name = Path(location.key).name or "input"
    target = dest_dir / name
    condition = {"IfMatch": if_match} if if_match else {}
    try:  # one GET (the transfer manager's ranged GETs take no If-Match)
        answer = s3_client().get_object(Bucket=location.bucket, Key=location.key, **condition)
        with target.open("wb") as out:
            shutil.copyfileobj(answer["Body"], out, COPY_CHUNK_BYTES)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NotFound"):
            raise InputError(
                "the uploaded file was not found in storage; upload it again", code="input_missing"
            ) from exc
        if code in ("412", "PreconditionFailed"):
            raise InputError(
                "the uploaded file was replaced after its upload was checked; upload it again",
                code="upload_changed",
            ) from exc
        raise
    return target


UPLOAD_THREADS = 8


def _transfer_config():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(use_threads=False)  # the pool's threads are the concurrency


def upload_files(local_dir: Path, files: list[dict], prefix: S3Location) -> list[dict]:
    """Upload the job's files (its summary's ``files``, content types from ``oculus.results``)
    below prefix; returns the same list with each object's ``key``."""
    client = s3_client()
    one_thread_each = _transfer_config()

    def upload(entry: dict) -> dict:
        target = prefix.child(entry["name"])
        client.upload_file(str(local_dir / entry["name"]), target.bucket, target.key,
                           ExtraArgs={"ContentType": entry["contentType"]}, Config=one_thread_each)
        return {"name": entry["name"], "key": target.key, "size": entry["size"], "contentType": entry["contentType"]}

    # a dozen files: S3's per-request latency, not bandwidth, is the cost, so all at once
    with ThreadPoolExecutor(max(1, min(UPLOAD_THREADS, len(files)))) as pool:
        return list(pool.map(upload, files))


def delete_objects(bucket: str, keys: list[str]) -> None:
    """Remove the named objects (a failed job's early results); none named, no request."""
    if keys:
        s3_client().delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})


def put_json(location: S3Location, payload: dict) -> None:
    s3_client().put_object(
        Bucket=location.bucket,
        Key=location.key,
        Body=json.dumps(payload).encode(),
        ContentType="application/json",
    )


class ProgressPublisher:
    """Writes progress.json under the job's output prefix, at most every ``min_interval`` s.

    Stage changes are always written so the UI never misses one; failures to write progress
    never fail the job (progress is advisory). ``publish_files``: result files already uploaded
    while the job goes on (the 3D viewer's), listed in every later write as ``files``.
    """

    def __init__(self, job_id: str, output: S3Location, min_interval: float = 1.0) -> None:
        self.job_id = job_id
        self.location = output.child("progress.json")
        self.min_interval = min_interval
        self.files: list[dict] = []
        self._last_write = 0.0
        self._last_stage: str | None = None
        self._last_percent = 0.0
        self._lock = threading.Lock()

    def __call__(self, stage: str, percent: float, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and stage == self._last_stage and now - self._last_write < self.min_interval:
                return
            self._last_stage, self._last_write, self._last_percent = stage, now, float(percent)
            files = list(self.files)
        doc = {
            "jobId": self.job_id,
            "stage": stage,
            "percent": round(float(percent), 1),
            "updatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if files:
            doc["files"] = files
        try:
            put_json(self.location, doc)
        except Exception:  # noqa: BLE001 - progress is advisory, the job goes on
            pass

    def publish_files(self, files: list[dict]) -> None:
        """List ``files`` (entries with their ``key``) from now on, written at once."""
        with self._lock:
            self.files = [*self.files, *files]
            stage, percent = self._last_stage or "exporting", self._last_percent
        self(stage, percent, force=True)
