"""S3 access for the inference server: fetch the input, publish results and progress.

The container needs S3 only (no DynamoDB, no internet). boto3 honours ``AWS_ENDPOINT_URL``,
which is how the local stack points it at moto.
"""

from __future__ import annotations

import json
import mimetypes
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from .errors import InputError

CONTENT_TYPES = {
    ".glb": "model/gltf-binary",
    ".obj": "model/obj",
    ".mtl": "model/mtl",
    ".stl": "model/stl",
    ".json": "application/json",
    ".png": "image/png",
    ".zip": "application/zip",
    ".gz": "application/gzip",
}


def content_type_for(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


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


def download(location: S3Location, dest_dir: Path) -> Path:
    """Download an S3 object into dest_dir, keeping only its base name."""
    from botocore.exceptions import ClientError

    name = Path(location.key).name or "input"
    target = dest_dir / name
    try:
        s3_client().download_file(location.bucket, location.key, str(target))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NotFound"):
            raise InputError(
                "the uploaded file was not found in storage; upload it again", code="input_missing"
            ) from exc
        raise
    return target


def upload_dir(local_dir: Path, prefix: S3Location) -> list[dict]:
    """Upload every file under local_dir below prefix; returns the file list of the contract."""
    files = []
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(local_dir).as_posix()
        target = prefix.child(rel)
        ctype = content_type_for(rel)
        s3_client().upload_file(str(path), target.bucket, target.key, ExtraArgs={"ContentType": ctype})
        files.append({"name": rel, "key": target.key, "size": path.stat().st_size, "contentType": ctype})
    return files


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
    never fail the job (progress is advisory).
    """

    def __init__(self, job_id: str, output: S3Location, min_interval: float = 1.0) -> None:
        self.job_id = job_id
        self.location = output.child("progress.json")
        self.min_interval = min_interval
        self._last_write = 0.0
        self._last_stage: str | None = None
        self._lock = threading.Lock()

    def __call__(self, stage: str, percent: float) -> None:
        now = time.monotonic()
        with self._lock:
            if stage == self._last_stage and now - self._last_write < self.min_interval:
                return
            self._last_stage, self._last_write = stage, now
        try:
            put_json(
                self.location,
                {
                    "jobId": self.job_id,
                    "stage": stage,
                    "percent": round(float(percent), 1),
                    "updatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
        except Exception:  # noqa: BLE001 - progress is advisory, the job goes on
            pass
