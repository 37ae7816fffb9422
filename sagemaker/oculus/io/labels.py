"""Loading a label map the user already has (e.g. TotalSegmentator output made elsewhere)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .budget import max_scan_bytes
from .checks import wrap_unexpected
from .detect import detect_format
from .nifti import read_nifti


@wrap_unexpected
def load_label_map(
    path: Path | str, *, max_uncompressed_bytes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, affine)``: a 3D unsigned-integer label array and its RAS+ affine.

    Float data are accepted when every value is a whole number. Refused with a typed error:
    non-NIfTI input, 4D data, fractional or negative values, and an all-zero map.
    """
    path = Path(path)
    max_uncompressed_bytes = max_uncompressed_bytes or max_scan_bytes()
    kind = detect_format(path)
    if kind != "nifti":
        raise InputError(
            f"{path.name!r} is {kind}, not a NIfTI label map; upload a .nii or .nii.gz segmentation.",
            code="not_a_label_map",
        )
    data, affine, warnings = read_nifti(path, max_uncompressed_bytes=max_uncompressed_bytes)
    if warnings:
        raise InputError(
            f"{path.name!r} holds several volumes; a label map must be a single 3D volume.",
            code="not_3d",
        )
    return as_labels(data, path.name), affine


def as_labels(data: np.ndarray, name: str) -> np.ndarray:
    """The label array as the smallest unsigned type; typed errors for what is not labels."""
    if np.issubdtype(data.dtype, np.floating):
        if not np.array_equal(data, np.round(data)):
            raise InputError(
                f"{name!r} holds fractional values, so it is an image or probability map rather than "
                "a label map; upload integer labels (0 = background).",
                code="non_integer_labels",
            )
    elif not np.issubdtype(data.dtype, np.integer):
        raise InputError(f"{name!r} stores {data.dtype} values, not integer labels.", code="non_integer_labels")
    low, high = (data.min(), data.max()) if data.size else (0, 0)
    if low < 0:
        raise InputError(
            f"{name!r} contains negative labels (down to {low:g}); labels must be 0 (background) or "
            "positive ids.",
            code="negative_labels",
        )
    if high == 0:
        raise InputError(
            f"{name!r} is an empty label map (every voxel is 0): there is nothing to mesh.",
            code="empty_label_map",
        )
    return data.astype(np.min_scalar_type(int(high)), copy=False)



#: A label map holds at most this many distinct ids (TotalSegmentator's largest task: 117).
MAX_DETECTED_LABELS = 256
#: Share of labelled voxels equal to their next voxel. Label maps are piecewise constant
#: (TotalSegmentator at 3 mm: 0.90, at 1 mm: 0.97); scans are not, even in 8 bits (0.1-0.36
#: for the CT and MR in the shared test data) or squeezed into 64 grey levels (up to 0.72).
MIN_SAME_NEIGHBOUR = 0.75
#: Below this many distinct values (a few coarse labels, e.g. this engine's own threshold
#: output) a map must be flatter still: a scan squeezed into 16 grey levels reaches 0.87.
FEW_LABELS, MIN_SAME_NEIGHBOUR_FEW = 16, 0.9
#: Where neighbours differ, the share that differ by exactly 1. A scan's grey levels change
#: gradually (0.15-0.8 in 8 and 6 bits); ids of a label map jump (0.07-0.16 for
#: TotalSegmentator's maps, where structures meet background 0).
MAX_UNIT_STEPS = 0.5
_DETECT_SAMPLE = 2_000_000  # voxels looked at (on a regular sub-grid) on large volumes


def looks_like_label_map(data: np.ndarray) -> bool:
    """True when a volume uploaded as a scan is a label map (checked on a regular sub-grid).

    Conservative: every rule must hold, so a CT or MR is never taken for one. Integer voxel
    values (integer type, or whole-numbered floats); none negative (CT has air at -1000);
    background 0 the most common value; 2 to ``MAX_DETECTED_LABELS`` distinct values; and no
    scan-like texture: labelled voxels mostly equal their neighbours (``MIN_SAME_NEIGHBOUR``)
    and, with more than ``FEW_LABELS`` values, neighbours that differ mostly jump by more than
    one (``MAX_UNIT_STEPS``), as ids do and grey levels do not.
    """
    if data.ndim != 3 or min(data.shape) < 2:
        return False
    if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        return False
    step = max(1, round((data.size / _DETECT_SAMPLE) ** (1 / 3)))
    grid = (slice(None, -1, step),) * 3
    sample = np.asarray(data[grid])
    if np.issubdtype(data.dtype, np.floating) and not (
        np.all(np.isfinite(sample)) and np.array_equal(sample, np.round(sample))
    ):
        return False
    if sample.min() < 0 or sample.max() > np.iinfo(np.uint16).max:
        return False
    sample = sample.astype(np.int64)
    counts = np.bincount(sample.ravel())
    distinct = int(np.count_nonzero(counts))
    if not 2 <= distinct <= MAX_DETECTED_LABELS or int(counts.argmax()) != 0:
        return False
    labelled = sample != 0
    same, differing, unit = 0, 0, 0
    for axis in range(3):  # each sample voxel against its next voxel along every axis
        shifted = list(grid)
        shifted[axis] = slice(1, None, step)
        neighbour = np.asarray(data[tuple(shifted)]).astype(np.int64)
        same += int(np.count_nonzero(neighbour[labelled] == sample[labelled]))
        jumps = np.abs(neighbour - sample)
        differing += int(np.count_nonzero(jumps))
        unit += int(np.count_nonzero(jumps == 1))
    same_share = same / (3 * max(1, int(labelled.sum())))
    if distinct <= FEW_LABELS:
        return same_share >= MIN_SAME_NEIGHBOUR_FEW
    return same_share >= MIN_SAME_NEIGHBOUR and unit <= MAX_UNIT_STEPS * max(1, differing)
