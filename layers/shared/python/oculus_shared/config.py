"""Configuration of every function, read from environment variables only.

The same code runs on AWS (values set by ``template.yaml``'s ``Globals``) and on a laptop
against moto (values set by the local stack). Variables:

``TABLE_NAME``                  DynamoDB job table (partition key ``jobId``). Required.
``OWNER_INDEX_NAME``            GSI on the job table keyed ``owner`` / ``createdAt`` (default ``owner-index``).
``STATUS_INDEX_NAME``           GSI keyed ``ownerStatus`` ("{owner}#{status}") / ``createdAt`` (default ``owner-status-index``).
``IDEMPOTENCY_TABLE_NAME``      DynamoDB table for Powertools Idempotency (key ``id``, TTL ``expiration``).
``IDEMPOTENCY_TTL_SECONDS``     how long an identical process request is answered from the record (default 3600).
``BUCKET_NAME``                 private data bucket (uploads/, results/, async/). Required.
``ENDPOINT_NAME``               SageMaker asynchronous inference endpoint name.
``MAX_UPLOAD_BYTES``            largest accepted upload (default 2 GiB = 2147483648).
``MULTIPART_THRESHOLD_BYTES``   declared sizes above this get a multipart upload (default 100 MiB).
``MULTIPART_PART_BYTES``        part size of a multipart upload (default 64 MiB; S3 needs >= 5 MiB).
``INLINE_UPLOAD_MAX_BYTES``     largest base64 inline upload, decoded (default 4 MiB).
``UPLOAD_URL_TTL_SECONDS``      lifetime of presigned PUT / part URLs (default 3600).
``DOWNLOAD_URL_TTL_SECONDS``    lifetime of presigned GET URLs (default 300).
``MAX_ACTIVE_JOBS_PER_USER``    jobs one user may have queued or processing (default 3); more is a 429.
``MAX_UPLOADS_PER_USER_PER_DAY`` uploads one user may start in 24 hours (default 50); more is a 429.
``INVOCATION_TIMEOUT_SECONDS``  SageMaker async invocation timeout (default 3600, the maximum).
``ENDPOINT_WAKE_UP_SECONDS``   allowance for the endpoint waking from zero instances (default 1200): with
                                the invocation timeout it makes a queued job's deadline (``service.job_deadline_seconds``).
``ALLOWED_ORIGIN``              the web app origin answered in CORS headers (default ``*`` only for local use).
``MODEL_INDEX_URI``             the classifier's version index (``versions.json``; each version's ``card.json``
                                in ``<version>/`` beside it): ``s3://bucket/key`` or a local file path.
``CLASSIFIER_DEFAULT_VERSION``  version that answers classify jobs (default "": the index's default).
``CLASSIFIER_CANDIDATE_VERSION`` A/B candidate version (default "": no A/B test).
``CLASSIFIER_CANDIDATE_SHARE``  percent (0-100) of classify jobs sent to the candidate, by job id (default 0).
``APP_VERSION``                 version reported by ``/healthz`` (default: the layer's version).
``AWS_ENDPOINT_URL``            boto3's own override (a moto server locally); read by botocore itself.
``AWS_REGION`` / ``AWS_DEFAULT_REGION``  region of every client.
Powertools reads its own: ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``,
``POWERTOOLS_LOG_LEVEL``, ``POWERTOOLS_TRACE_DISABLED``, ``POWERTOOLS_TRACER_CAPTURE_RESPONSE``
(``false`` on AWS: answers hold presigned URLs and file names, which stay out of X-Ray).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from . import __version__
from .model_versions import MODEL_VERSION_PATTERN, VersionPolicy

MiB = 1024 * 1024
GiB = 1024 * MiB


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:  # a misconfigured deployment must fail loudly, not guess
        raise RuntimeError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def _version(name: str) -> str:
    value = os.environ.get(name, "")
    if value and not re.match(MODEL_VERSION_PATTERN, value):
        raise RuntimeError(f"environment variable {name} must be a model version key, got {value!r}")
    return value


def _classifier_policy() -> VersionPolicy:
    share = _int("CLASSIFIER_CANDIDATE_SHARE", 0)
    if not 0 <= share <= 100:
        raise RuntimeError(f"environment variable CLASSIFIER_CANDIDATE_SHARE must be 0-100, got {share}")
    return VersionPolicy(default=_version("CLASSIFIER_DEFAULT_VERSION"),
                         candidate=_version("CLASSIFIER_CANDIDATE_VERSION"), candidate_share=share)


@dataclass(frozen=True)
class Settings:
    table_name: str
    owner_index_name: str
    status_index_name: str
    idempotency_table_name: str
    idempotency_ttl_seconds: int
    bucket_name: str
    endpoint_name: str
    max_upload_bytes: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int
    inline_upload_max_bytes: int
    upload_url_ttl_seconds: int
    download_url_ttl_seconds: int
    max_active_jobs_per_user: int
    max_uploads_per_user_per_day: int
    invocation_timeout_seconds: int
    allowed_origin: str
    model_index_uri: str
    app_version: str
    aws_endpoint_url: str
    wake_up_seconds: int = 1200
    classifier_policy: VersionPolicy = VersionPolicy()


def load_settings() -> Settings:
    return Settings(
        table_name=_required("TABLE_NAME"),
        owner_index_name=os.environ.get("OWNER_INDEX_NAME", "owner-index"),
        status_index_name=os.environ.get("STATUS_INDEX_NAME", "owner-status-index"),
        idempotency_table_name=os.environ.get("IDEMPOTENCY_TABLE_NAME", ""),
        idempotency_ttl_seconds=_int("IDEMPOTENCY_TTL_SECONDS", 3600),
        bucket_name=_required("BUCKET_NAME"),
        endpoint_name=os.environ.get("ENDPOINT_NAME", ""),
        max_upload_bytes=_int("MAX_UPLOAD_BYTES", 2 * GiB),
        multipart_threshold_bytes=_int("MULTIPART_THRESHOLD_BYTES", 100 * MiB),
        multipart_part_bytes=max(5 * MiB, _int("MULTIPART_PART_BYTES", 64 * MiB)),
        inline_upload_max_bytes=_int("INLINE_UPLOAD_MAX_BYTES", 4 * MiB),
        upload_url_ttl_seconds=_int("UPLOAD_URL_TTL_SECONDS", 3600),
        download_url_ttl_seconds=_int("DOWNLOAD_URL_TTL_SECONDS", 300),
        max_active_jobs_per_user=_int("MAX_ACTIVE_JOBS_PER_USER", 3),
        max_uploads_per_user_per_day=_int("MAX_UPLOADS_PER_USER_PER_DAY", 50),
        invocation_timeout_seconds=min(3600, _int("INVOCATION_TIMEOUT_SECONDS", 3600)),
        wake_up_seconds=_int("ENDPOINT_WAKE_UP_SECONDS", 1200),
        allowed_origin=os.environ.get("ALLOWED_ORIGIN", "*"),
        model_index_uri=os.environ.get("MODEL_INDEX_URI", ""),
        classifier_policy=_classifier_policy(),
        app_version=os.environ.get("APP_VERSION", __version__),
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL", ""),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Settings of this process (read once per cold start; tests call ``settings.cache_clear()``)."""
    return load_settings()
