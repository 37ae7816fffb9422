"""Response bodies of the API, declared once. The use cases in ``service`` return them, the
handlers name them in their return annotations (``Response[...]``), Powertools checks every
answer against them in the functions that validate (an answer that does not fit is a bug:
500), and ``scripts/openapi_doc.py`` writes their schemas into ``docs/openapi.yaml``.

TypedDicts, not pydantic classes: pydantic validates and describes them all the same, the
use cases keep returning plain dicts, and the health function, which validates nothing,
imports no pydantic on its cold start (``typing_extensions``: pydantic needs its TypedDict
before Python 3.12)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from .jobs import JobKind, JobStatus, Task


# -- the job ------------------------------------------------------------------------------------
class ErrorDetail(TypedDict):
    code: str
    message: str


class InputView(TypedDict):
    filename: str
    size: int
    format: str | None  # None until the upload is complete and its content sniffed


class FileView(TypedDict):
    name: str
    size: int | None
    contentType: str | None


class JobView(TypedDict):
    """A job as the API shows it: no storage keys, no owner id."""

    jobId: str
    status: JobStatus
    kind: JobKind
    task: Task | None
    stage: str | None
    progress: float | None
    options: dict[str, Any]
    input: InputView
    result: dict[str, Any] | None
    engine: dict[str, Any] | None
    files: list[FileView]
    error: ErrorDetail | None
    createdAt: str
    updatedAt: str


# -- uploads ------------------------------------------------------------------------------------
class PartUrl(TypedDict):
    partNumber: int
    url: str


class PutUpload(TypedDict):
    method: Literal["PUT"]
    url: str
    expiresIn: int


class MultipartUpload(TypedDict):
    method: Literal["multipart"]
    expiresIn: int
    uploadId: str
    partSize: int
    parts: list[PartUrl]


class InlineUpload(TypedDict):
    method: Literal["inline"]


class UploadCreated(TypedDict):
    ok: Literal[True]
    jobId: str
    job: JobView
    upload: PutUpload | MultipartUpload | InlineUpload


class JobAnswer(TypedDict):
    ok: Literal[True]
    job: JobView


# -- processing ---------------------------------------------------------------------------------
class ProcessAccepted(TypedDict):
    ok: Literal[True]
    jobId: str
    status: Literal["queued"]
    task: Task


# -- reading and deleting -----------------------------------------------------------------------
class JobList(TypedDict):
    ok: Literal[True]
    jobs: list[JobView]
    nextCursor: str | None


class FileUrl(TypedDict):
    ok: Literal[True]
    url: str
    expiresIn: int


class JobDeleted(TypedDict):
    ok: Literal[True]
    jobId: str
    deleted: Literal[True]


# -- health and models --------------------------------------------------------------------------
class DependencyCheck(TypedDict):
    ok: bool
    error: NotRequired[str]
    status: NotRequired[str]
    instances: NotRequired[int]
    scaledToZero: NotRequired[bool]
    healthy: NotRequired[bool]


class HealthChecks(TypedDict):
    table: DependencyCheck
    bucket: DependencyCheck
    endpoint: DependencyCheck


class Health(TypedDict):
    """200 when every check passed, 503 (same body) when one failed."""

    ok: bool
    version: str
    checks: HealthChecks


class ModelInfo(TypedDict):
    """The classifier's card as published with the model (``sagemaker/oculus/models/*/card.json``):
    name, version, classes, input, measured accuracy and more."""

    ok: Literal[True]
    models: list[dict[str, Any]]


# -- errors -------------------------------------------------------------------------------------
class FieldError(TypedDict):
    field: str
    message: str
    type: str | None


class ErrorBody(TypedDict):
    code: str
    message: str
    fields: NotRequired[list[FieldError]]


class ErrorEnvelope(TypedDict):
    """Every 4xx/5xx answer. ``fields`` comes with 422 validation errors."""

    ok: Literal[False]
    error: ErrorBody
