"""S3 key layout (one private bucket). Ids only in keys: owner is the Cognito ``sub``, the
job id a random uuid, and the upload is ``input`` plus its extension."""

from __future__ import annotations

UPLOADS = "uploads"
RESULTS = "results"
ASYNC_PREFIX = "async/"
ASYNC_REQUESTS = "async/requests"
ASYNC_OUTPUTS = "async/outputs"
ASYNC_FAILURES = "async/failures"


def upload_prefix(owner: str, job_id: str) -> str:
    return f"{UPLOADS}/{owner}/{job_id}/"


def upload_key(owner: str, job_id: str, extension: str) -> str:
    """A neutral object name: user file names (often patient names) stay in the job record,
    out of keys and so out of S3 access logs and engine logs."""
    return f"{upload_prefix(owner, job_id)}input{extension}"


def results_prefix(owner: str, job_id: str) -> str:
    return f"{RESULTS}/{owner}/{job_id}/"


def progress_key(owner: str, job_id: str) -> str:
    return f"{results_prefix(owner, job_id)}progress.json"


def manifest_key(job_id: str) -> str:
    return f"{ASYNC_REQUESTS}/{job_id}.json"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); anything else is a ValueError."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ValueError(f"s3 URI needs a bucket and a key: {uri!r}")
    return bucket, key


def is_under(key: str, prefix: str) -> bool:
    return key.startswith(prefix) and ".." not in key[len(prefix):].split("/")
