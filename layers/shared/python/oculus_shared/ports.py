"""The ports of the backend: the narrow interfaces the use cases in ``service`` are written
against. Production adapters: ``job_store.DynamoJobStore``, ``blob_store.S3BlobStore``,
``invoker.SageMakerAsyncInvoker`` (built by ``wiring``); the unit tests' in-memory fakes live in
``tests/unit/backend/fakes.py``. Every adapter keeps the contract written on each method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .jobs import Job, JobStatus


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str  # as S3 quotes it; the engine reads the input only while it still has this ETag


class JobStore(Protocol):
    def put_new(self, job: Job) -> None:
        """Store a new job (its id is fresh)."""

    def get(self, job_id: str) -> Job | None:
        """The job, whoever owns it, or None."""

    def get_owned(self, owner: str, job_id: str) -> Job:
        """The caller's job. Raises ``NotFound`` for a missing, another user's or a deleted job."""

    def transition(self, job_id: str, target: JobStatus, *, owner: str | None = None,
                   updates: dict[str, Any] | None = None) -> Job:
        """Move the job to ``target`` and apply ``updates`` in one conditional write, only from a
        state the state machine allows (``jobs.sources_of``) and, with ``owner``, only for that
        owner. Raises ``NotFound`` (no such job / not the owner's) or ``InvalidTransition``."""

    def requeue(self, job_id: str, *, owner: str, retries: int, updates: dict[str, Any] | None = None) -> Job:
        """Move a ``queued`` or ``processing`` job (back) to ``queued`` with its retry count raised
        to ``retries + 1`` and ``updates`` applied, in one conditional write made only while the
        count is still ``retries`` (so of two racing copies of one notification one retries).
        Raises ``NotFound`` or ``InvalidTransition``."""

    def list_by_owner(self, owner: str, *, limit: int, cursor: str | None,
                      status: JobStatus | None) -> tuple[list[Job], str | None]:
        """One page of the owner's jobs, newest first, without ``deleted`` ones, and the opaque
        cursor of the next page (None on the last). A cursor is bound to the owner and the
        status filter; any other raises ``BadRequest`` (``invalid_cursor``)."""

    def delete(self, job_id: str) -> None:
        """Remove the record of a ``deleted`` job (a no-op for any other state)."""

    def count_active(self, owner: str) -> int:
        """How many of the owner's jobs are ``queued`` or ``processing``."""

    def created_since(self, owner: str, since: str, limit: int) -> list[str]:
        """``createdAt`` of the owner's jobs created at or after ``since`` (ISO, as
        ``jobs.utc_now``), oldest first, at most ``limit`` of them (deleted records are gone)."""

    def list_stale(self, status: JobStatus, updated_before: str, limit: int) -> list[Job]:
        """Jobs of every owner in ``status`` whose last change (``updatedAt``) is before
        ``updated_before`` (ISO, as ``jobs.utc_now``), at most ``limit`` (the sweeper's query)."""

    def reachable(self) -> None:
        """Raises when the store cannot be used (health check)."""


class BlobStore(Protocol):
    bucket: str

    def presign_put(self, key: str, ttl: int, size: int) -> str:
        """A PUT URL valid ``ttl`` seconds whose signature covers ``Content-Length: size``."""

    def start_multipart(self, key: str, size: int, part_bytes: int, ttl: int) -> dict[str, Any]:
        """``{uploadId, partSize, parts: [{partNumber, url}]}``; each part URL's signature
        covers that part's length."""

    def complete_multipart(self, key: str, upload_id: str, parts: list[dict[str, Any]] | None,
                           expected_parts: int) -> bool:
        """False when the upload is unknown or its parts are missing or wrong."""

    def abort_multipart(self, key: str, upload_id: str) -> None: ...

    def head(self, key: str) -> StoredObject | None:
        """The object's size and ETag, or None when it does not exist."""

    def read_head(self, key: str, length: int) -> bytes: ...

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def put_json(self, key: str, document: Any) -> None: ...

    def read_json(self, key: str) -> Any | None:
        """The JSON document, or None when the object does not exist; ``ValueError`` when it is
        not JSON."""

    def read_json_uri(self, uri: str) -> Any | None:
        """``read_json`` of an ``s3://`` URI; ``ValueError`` for one outside the data bucket."""

    def presign_get(self, key: str, ttl: int, download_name: str) -> str: ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the prefix; how many there were."""

    def delete_key(self, key: str) -> None:
        """Delete one object (nothing happens when it does not exist)."""

    def reachable(self) -> None:
        """Raises when the store cannot be used (health check)."""


class Invoker(Protocol):
    def invoke(self, job_id: str, manifest_uri: str) -> str:
        """Queue the request named by the manifest; the notification names ``job_id``."""

    def endpoint_state(self) -> dict[str, Any]:
        """``{status, instances, scaledToZero, healthy}`` of the processing endpoint."""
