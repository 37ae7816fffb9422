"""Typed errors of the engine.

Every failure the user can act on is an ``OculusError`` with a stable ``code`` (snake_case,
part of the API contract: the server answers ``{"code", "message"}`` and the backend stores it
on the failed job) and a message written for the person who uploaded the scan.
"""

from __future__ import annotations


class OculusError(Exception):
    """Base of all expected engine failures."""

    code = "engine_error"
    #: HTTP status the inference server answers with for this error.
    http_status = 422

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def __str__(self) -> str:  # pragma: no cover - trivial
        return f"{self.code}: {self.message}"


class InputError(OculusError):
    """The input scan or image cannot be used (corrupt, wrong kind, unsafe)."""

    code = "invalid_input"


class UnsupportedFormatError(InputError):
    code = "unsupported_format"


class UnsafeArchiveError(InputError):
    code = "unsafe_archive"


class SegmentationError(OculusError):
    code = "segmentation_failed"
    http_status = 500


class EngineUnavailableError(OculusError):
    """A requested engine cannot run here (e.g. TotalSegmentator weights are missing)."""

    code = "engine_unavailable"
    http_status = 503


class ModelError(OculusError):
    code = "model_error"
    http_status = 500


class JobTimeoutError(OculusError):
    """A job ran past its deadline and was stopped (oculus.job_process)."""

    code = "timeout"
    http_status = 504


class EngineCrashedError(OculusError):
    """The job's process died without an answer (killed by the kernel, a native crash)."""

    code = "engine_crashed"
    http_status = 500


# --- input loading (oculus.io) -------------------------------------------------------------


class CorruptFileError(InputError):
    """The file is of a known kind but cannot be read (truncated, damaged, undecodable)."""

    code = "corrupt_file"


class ArchiveTooLargeError(UnsafeArchiveError):
    """An archive expands past the size, ratio or member-count limits (zip bomb guard)."""

    code = "archive_too_large"


class InvalidGeometryError(InputError):
    """Voxel spacing or orientation that cannot describe a real scan."""

    code = "invalid_spacing"


class InvalidVoxelsError(InputError):
    """Voxel values that no engine can use (NaN, infinity)."""

    code = "invalid_voxels"
