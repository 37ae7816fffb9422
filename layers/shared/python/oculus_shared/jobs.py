"""The job: its states, the allowed transitions between them, and its public view.

uploading -> uploaded -> queued -> processing -> completed | failed, and deleted.
Stores apply a transition only with a conditional write on the current state, so a
refused transition is never silently applied (see ``job_store``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .errors import InvalidTransition

if TYPE_CHECKING:
    from .responses import JobView

#: job ids are uuid4 hex (``new_job_id``); anything else in a path is simply not found
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"


class JobStatus(StrEnum):
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DELETED = "deleted"


S = JobStatus
#: Every allowed transition. Anything else is refused. A running GPU job (queued or
#: processing) cannot be deleted: its results would land after the delete.
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.UPLOADING: frozenset({S.UPLOADED, S.FAILED, S.DELETED}),
    S.UPLOADED: frozenset({S.QUEUED, S.FAILED, S.DELETED}),
    # -> DELETED from a running job: DELETE cancels it; its late answer is then ignored
    S.QUEUED: frozenset({S.PROCESSING, S.COMPLETED, S.FAILED, S.DELETED}),
    S.PROCESSING: frozenset({S.COMPLETED, S.FAILED, S.DELETED}),
    S.COMPLETED: frozenset({S.DELETED}),
    S.FAILED: frozenset({S.DELETED}),
    S.DELETED: frozenset(),
}

TERMINAL_STATES = frozenset({S.COMPLETED, S.FAILED, S.DELETED})
ACTIVE_STATES = frozenset({S.QUEUED, S.PROCESSING})


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """States from which ``target`` may be reached (the condition of the conditional write)."""
    return frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def check_transition(current: JobStatus, target: JobStatus) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(f"a job that is {current.value} cannot become {target.value}")


class JobKind(StrEnum):
    VOLUME = "volume"
    IMAGE = "image"


class Task(StrEnum):
    TOTALSEG = "totalseg"
    CLASSIFY = "classify"


def new_job_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds: sorts lexicographically, so the owner index orders by it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Job:
    job_id: str
    owner: str
    status: JobStatus
    kind: JobKind
    created_at: str
    updated_at: str
    input: dict[str, Any] = field(default_factory=dict)
    task: Task | None = None
    options: dict[str, Any] = field(default_factory=dict)
    stage: str | None = None
    progress: float | None = None
    result: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    engine: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    #: the engine's answer objects under async/ (from its notification), deleted with the job
    answer_keys: list[str] = field(default_factory=list)
    #: how many times the job was re-queued because its engine died (at most once)
    retries: int = 0
    #: the death notification the retry answered (its failure/output location): a duplicate
    #: copy of it is recognised and changes nothing
    retried_after: str | None = None

    @classmethod
    def new_upload(cls, owner: str, kind: JobKind, input_: dict[str, Any]) -> Job:
        now = utc_now()
        return cls(new_job_id(), owner, JobStatus.UPLOADING, kind, now, now, input=input_)

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (attributes that are None are left out)."""
        item: dict[str, Any] = {
            "jobId": self.job_id,
            "owner": self.owner,
            "status": self.status.value,
            "kind": self.kind.value,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "input": self.input,
            "options": self.options,
            "files": self.files,
        }
        optional = {
            "task": self.task.value if self.task else None,
            "stage": self.stage,
            "progress": self.progress,
            "result": self.result,
            "engine": self.engine,
            "error": self.error,
            "answerKeys": self.answer_keys or None,
            "retries": self.retries or None,
            "retriedAfter": self.retried_after,
        }
        item.update({k: v for k, v in optional.items() if v is not None})
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Job:
        return cls(
            job_id=item["jobId"],
            owner=item["owner"],
            status=JobStatus(item["status"]),
            kind=JobKind(item["kind"]),
            created_at=item["createdAt"],
            updated_at=item.get("updatedAt", item["createdAt"]),
            input=dict(item.get("input") or {}),
            task=Task(item["task"]) if item.get("task") else None,
            options=dict(item.get("options") or {}),
            stage=item.get("stage"),
            progress=float(item["progress"]) if item.get("progress") is not None else None,
            result=item.get("result"),
            files=list(item.get("files") or []),
            engine=item.get("engine"),
            error=item.get("error"),
            answer_keys=list(item.get("answerKeys") or []),
            retries=int(item.get("retries") or 0),
            retried_after=item.get("retriedAfter"),
        )

    def public_view(self) -> JobView:
        """What the API shows: no storage keys, no owner id."""
        return {
            "jobId": self.job_id,
            "status": self.status.value,
            "kind": self.kind.value,
            "task": self.task.value if self.task else None,
            "stage": self.stage,
            "progress": self.progress,
            "options": self.options,
            "input": {k: self.input.get(k) for k in ("filename", "size", "format")},
            "result": self.result,
            "engine": self.engine,
            "files": [
                {k: f.get(k) for k in ("name", "size", "contentType")} | ({"url": f["url"]} if "url" in f else {})
                for f in self.files
            ],
            "error": self.error,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
