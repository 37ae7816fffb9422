"""Request bodies of the API (pydantic): Powertools validates them and answers 422 with field
errors; the same models feed the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .jobs import JOB_ID_PATTERN
from .model_versions import MODEL_VERSION_PATTERN

StructureName = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class UploadRequest(_Strict):
    """Either a declared upload (``filename`` + ``size``: answered with presigned URLs) or an
    inline small file (``filename`` + base64 ``file``)."""

    filename: str = Field(min_length=1, max_length=255)
    size: int | None = Field(default=None, gt=0)
    file: str | None = Field(default=None, description="base64 file content (small files only)")
    contentType: str | None = Field(default=None, max_length=128)


class CompletedPart(_Strict):
    partNumber: int = Field(ge=1, le=10000)
    etag: str = Field(min_length=1, max_length=128)


class CompleteUploadRequest(_Strict):
    parts: list[CompletedPart] | None = Field(default=None, max_length=10000)


class TotalsegRequest(_Strict):
    """The options of a ``totalseg`` job; each field is an engine option (sagemaker/oculus/options.py)
    with the same default and allowed values (tests/unit/engine/test_options_contract.py)."""

    jobId: str = Field(pattern=JOB_ID_PATTERN)
    # the tasks offered (GET /capabilities); the engine runs total_mr for an MR scan asked for total
    totalseg_task: Literal["total", "total_mr"] = "total"
    device: Literal["gpu", "cpu"] = "gpu"
    fast: bool = False
    # None: the engine's tolerance-based decimation; 0..99 overrides it
    reduction_percent: int | None = Field(default=None, ge=0, le=99)
    roi_subset: list[StructureName] | None = Field(default=None, min_length=1, max_length=200)
    stl: bool = False
    smoothing: bool = True
    engine: Literal["auto", "totalsegmentator", "threshold"] = "auto"

    def options(self) -> dict:
        options = self.model_dump(exclude={"jobId"})
        if options["roi_subset"] is not None:  # order and repeats must not change the idempotency key
            options["roi_subset"] = sorted(set(options["roi_subset"]))
        return options


class ClassifyRequest(_Strict):
    jobId: str = Field(pattern=JOB_ID_PATTERN)
    modelVersion: str | None = Field(
        default=None, pattern=MODEL_VERSION_PATTERN,
        description="a classifier version GET /model-info lists; default: the deployment's choice "
                    "(its default version, or the A/B candidate for its share of jobs)")

    def options(self) -> dict:
        return {"modelVersion": self.modelVersion} if self.modelVersion else {}
