"""DICOM results for DICOM input: seg.dcm (DICOM SEG) and rtstruct.dcm (RT Structure Set).

Both reference the source series slice by slice and share its Patient, Study and Frame of
Reference. They are made only when the scan came from DICOM and its slices form one clean
stack; otherwise no DICOM file is written and a warning says why. A failure here never fails
the job: the NIfTI, meshes and report are already the result, the warning names what is missing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..segment.base import Segmentation
from ..volume import Volume
from .rtstruct import write_rtstruct
from .seg import write_seg
from .source import PreparedSource, SourceUnsuitable, prepare

log = logging.getLogger(__name__)

SEG_NAME = "seg.dcm"
RTSTRUCT_NAME = "rtstruct.dcm"
CONTENT_TYPE = "application/dicom"
_PREPARED = "_dicom_prepared"  # the per-job cache's attribute on the registry's inputs


@dataclass
class DicomOutputs:
    names: list[str] = field(default_factory=list)  # files written into out_dir
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Inputs:
    """The part of ``oculus.results.VolumeInputs`` the DICOM writers read."""

    volume: Volume
    segmentation: Segmentation
    warnings: list[str] = field(default_factory=list)


def write_seg_result(inputs, path: Path) -> list[Path]:
    """Registry writer (``oculus.results``) of seg.dcm: [] and the reason in ``inputs.warnings``
    when the input cannot carry one."""
    return _write(inputs, Path(path), write_seg)


def write_rtstruct_result(inputs, path: Path) -> list[Path]:
    """Registry writer of rtstruct.dcm, as ``write_seg_result``."""
    return _write(inputs, Path(path), write_rtstruct)


def write_dicom_outputs(volume: Volume, segmentation: Segmentation, out_dir: Path) -> DicomOutputs:
    """Both files into ``out_dir`` (for the CLI, tests and benchmarks; jobs use the registry)."""
    inputs = _Inputs(volume, segmentation)
    result = DicomOutputs(warnings=inputs.warnings)
    for name, write in ((SEG_NAME, write_seg_result), (RTSTRUCT_NAME, write_rtstruct_result)):
        t0 = time.perf_counter()
        result.names += [p.name for p in write(inputs, Path(out_dir) / name)]
        result.timings[name] = time.perf_counter() - t0
    return result


def _prepared(inputs) -> PreparedSource | None:
    """The shared source, prepared once per job (both writers need it); None when unsuitable."""
    if hasattr(inputs, _PREPARED):
        return getattr(inputs, _PREPARED)
    try:
        prepared = prepare(inputs.volume.dicom_source, inputs.segmentation)
        inputs.warnings.extend(prepared.warnings)
    except SourceUnsuitable as exc:
        prepared = None
        inputs.warnings.append(f"No DICOM SEG or RTSTRUCT was made: {exc}.")
    except Exception as exc:  # noqa: BLE001 - a bug here must not cost the job its other results
        log.exception("preparing the DICOM source failed")
        prepared = None
        inputs.warnings.append(
            f"No DICOM SEG or RTSTRUCT was made: reading the source headers failed "
            f"({type(exc).__name__}: {exc}); the other results are complete."
        )
    setattr(inputs, _PREPARED, prepared)
    return prepared


def _write(inputs, path: Path, writer) -> list[Path]:
    prepared = _prepared(inputs)
    if prepared is None:
        return []
    try:
        writer(prepared, path)
    except Exception as exc:  # noqa: BLE001 - the job's other results stand; say what failed
        log.exception("writing %s failed", path.name)
        path.unlink(missing_ok=True)
        inputs.warnings.append(
            f"{path.name} could not be written ({type(exc).__name__}: {exc}); the other results are "
            "complete."
        )
        return []
    return [path]
