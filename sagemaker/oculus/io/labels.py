"""Loading a label map the user already has (e.g. TotalSegmentator output made elsewhere)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .checks import DEFAULT_MAX_UNCOMPRESSED_BYTES, wrap_unexpected
from .detect import detect_format
from .nifti import read_nifti


@wrap_unexpected
def load_label_map(
    path: Path | str, *, max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, affine)``: a 3D unsigned-integer label array and its RAS+ affine.

    Float data are accepted when every value is a whole number. Refused with a typed error:
    non-NIfTI input, 4D data, fractional or negative values, and an all-zero map.
    """
    path = Path(path)
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
    return _as_labels(data, path.name), affine


def _as_labels(data: np.ndarray, name: str) -> np.ndarray:
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
