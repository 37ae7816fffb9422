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
    #: a running job's files published early (its 3D scene): a short-lived presigned GET, so the
    #: viewer opens them without asking ``GET /files`` first
    url: NotRequired[str]


# A classify job's result: the engine's answer (sagemaker/oculus/classify/runtime.py
# ``Classifier.answer``). Functional form: "class" is a Python keyword.
ClassProbability = TypedDict("ClassProbability", {"class": str, "probability": float})


class ModelVersionRef(TypedDict):
    name: str
    version: str  # the version key that answered (e.g. v1, v2): GET /model-info lists them


class ClassificationResult(TypedDict):
    """A ``classify`` job's ``result``. ``verdict``: ``no_tumor`` only above the model's calibrated
    no-tumour threshold; ``needs_review`` ("Uncertain - needs review", with ``top2``) below it or
    below the confidence threshold; ``inconclusive`` for an image that is not a brain MRI slice
    (``reason`` says why). Answers from before verdicts existed lack the NotRequired fields."""

    is_tumor: bool
    predicted_class: str
    confidence: float
    probabilities: dict[str, float]
    recommendation: str
    inconclusive: bool  # verdict is needs_review or inconclusive
    model: ModelVersionRef
    verdict: NotRequired[Literal["tumor", "no_tumor", "needs_review", "inconclusive"]]
    reason: NotRequired[str | None]
    top2: NotRequired[list[ClassProbability]]


# the engine may add fields: pass them on (pydantic would drop them), and no pydantic import here
ClassificationResult.__pydantic_config__ = {"extra": "allow"}  # type: ignore[attr-defined]


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
    result: ClassificationResult | dict[str, Any] | None  # dict: a volume job's summary
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


class ModelAbTest(TypedDict):
    candidate: str  # the version tried
    share: int  # percent of classify jobs it answers (chosen by job id)


class ModelInfo(TypedDict):
    """The classifier versions served, each with its card as published with the model
    (``sagemaker/oculus/models/brain_tumor/<version>/card.json``: name, classes, input, measured
    accuracy on both splits, thresholds and more; ``version`` is the version key, the card's own
    stamp is ``release``), the version that answers by default and any A/B test."""

    ok: Literal[True]
    default: str
    versions: list[str]
    abTest: ModelAbTest | None
    models: list[dict[str, Any]]


# -- engine capabilities ------------------------------------------------------------------------
class TotalSegmentatorTask(TypedDict):
    """One TotalSegmentator task the product offers (``total`` for CT, ``total_mr`` for MR)."""

    name: str
    weights: bool  # the normal (1.5 mm) model is installed
    fastWeights: bool  # the fast (3 mm) model is installed
    structures: list[str]  # what ``roi_subset`` may name


class TotalSegmentatorCapabilities(TypedDict):
    installed: bool  # the package is in the engine's image
    usable: bool  # installed and some offered task has its weights
    version: str | None
    tasks: list[TotalSegmentatorTask]


class Capabilities(TypedDict):
    """What the segmentation engine can run, as it published at its last start
    (``known`` is False until it has; then only the approximate engines are assumed)."""

    ok: Literal[True]
    known: bool
    publishedAt: str | None
    engineVersion: str | None
    default: Literal["totalsegmentator", "threshold"]
    totalsegmentator: TotalSegmentatorCapabilities


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
