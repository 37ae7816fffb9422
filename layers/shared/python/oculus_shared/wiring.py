"""Builds the production adapters from the environment, once per process."""

from __future__ import annotations

import re
from functools import lru_cache

from .blob_store import S3BlobStore
from .config import settings
from .errors import NotFound
from .invoker import SageMakerAsyncInvoker
from .job_store import DynamoJobStore
from .jobs import JOB_ID_PATTERN
from .service import Backend

_JOB_ID = re.compile(JOB_ID_PATTERN)


@lru_cache(maxsize=1)
def backend() -> Backend:
    s = settings()
    invoker = SageMakerAsyncInvoker(s.endpoint_name, s.invocation_timeout_seconds) if s.endpoint_name else None
    return Backend(s, DynamoJobStore(s.table_name, s.owner_index_name, s.status_index_name), S3BlobStore(s.bucket_name), invoker)


def reset() -> None:
    """Forget settings and adapters (tests change the environment between cases)."""
    from . import aws

    settings.cache_clear()
    backend.cache_clear()
    aws.reset_clients()


def job_id_from_path(job_id: str) -> str:
    """Ids we never issue are simply not found (no storage call for junk)."""
    if not _JOB_ID.match(job_id):
        raise NotFound("no such job", code="job_not_found")
    return job_id
