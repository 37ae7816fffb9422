"""NIfTI-1/-2 loading (plain or gzip), by content rather than by file name."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, InputError
from ..nib import nib
from ..volume import Volume
from .checks import check_finite, check_size, check_spacing, require_3d
from .inflate import INFLATE_ERRORS, InflatingReader

_READ_ERRORS = (EOFError, OSError, zlib.error, *INFLATE_ERRORS, ValueError, struct.error)


def read_nifti(path: Path, *, max_uncompressed_bytes: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return ``(data, affine, warnings)`` of the first 3D volume in a NIfTI file.

    Data keep their stored integer type; scaled or float data come back as float32.
    """
    warnings: list[str] = []
    with _open(path) as fileobj:
        img = _image_from(fileobj, path)
        shape = tuple(int(s) for s in img.shape)
        _refuse_unsupported_type(img, path)
        check_size(_first_volume_bytes(img), max_uncompressed_bytes, f"{path.name!r}")
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        require_3d(shape, f"{path.name!r}")
        check_spacing(img.affine, _raw_zooms(fileobj))
        if len(shape) > 3:
            extra = int(np.prod(shape[3:]))
            warnings.append(
                f"The NIfTI file holds {extra} volumes (shape {shape}); only the first one was used."
            )
        index = (slice(None),) * 3 + (0,) * (len(img.shape) - 3)
        try:
            data = np.asarray(img.dataobj[index])
        except _READ_ERRORS as exc:
            raise _truncated(path) from exc
    if data.dtype == np.float64 or data.dtype == np.float16:
        data = data.astype(np.float32)
    elif data.dtype == np.bool_:
        data = data.astype(np.uint8)
    check_finite(data)
    return data, np.asarray(img.affine, dtype=np.float64), warnings


def load_nifti(path: Path, *, max_uncompressed_bytes: int) -> Volume:
    """A NIfTI scan; its modality (NIfTI records none) is inferred from its intensities."""
    data, affine, warnings = read_nifti(path, max_uncompressed_bytes=max_uncompressed_bytes)
    modality = infer_modality(data)
    if modality == "CT":
        warnings.append(
            "NIfTI records no modality: this scan was taken to be CT because its intensities look "
            "like Hounsfield units (integer values, air at about -1000)."
        )
    return Volume(data=data, affine=affine, source_format="nifti", modality=modality, warnings=warnings)


#: Hounsfield-unit signature: air (about -1000 HU) is the minimum or near it, and a meaningful
#: share of voxels (air around and inside the body) lies within AIR_WINDOW of it.
AIR_HU, AIR_WINDOW, MIN_AIR_FRACTION = -1000.0, 100.0, 0.01
_SAMPLE = 1_000_000  # voxels looked at (evenly strided) on large volumes


def infer_modality(data: np.ndarray) -> str | None:
    """``"CT"`` when the intensities look like Hounsfield units, else ``None`` (unknown).

    Hounsfield units: integer-valued; the minimum at or below -900 (air, or CT's -1024 /
    -2048 / -3024 padding outside the field of view) and not below -32768; at least 1 % of
    the voxels within 100 of -1000 (air); and something denser than air (maximum above -500).
    MR and PET intensities are non-negative or only slightly negative, so they stay ``None``.
    """
    if data.size == 0 or not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        return None
    flat = data.reshape(-1)
    sample = flat[:: max(1, flat.size // _SAMPLE)]
    low, high = float(flat.min()), float(sample.max())
    if not (-32768.0 <= low <= AIR_HU + AIR_WINDOW and high > -500.0):
        return None
    if np.issubdtype(data.dtype, np.floating) and not np.array_equal(sample, np.round(sample)):
        return None
    air = np.count_nonzero(np.abs(sample.astype(np.float32) - AIR_HU) <= AIR_WINDOW)
    return "CT" if air >= MIN_AIR_FRACTION * sample.size else None


def _open(path: Path):
    with path.open("rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    return InflatingReader(path) if gzipped else path.open("rb")


def _image_from(fileobj, path: Path):
    """Parse the header from an open stream: nibabel's own loader goes by file extension."""
    try:
        head = fileobj.read(4)
        fileobj.seek(0)
        size = struct.unpack("<i", head)[0] if len(head) == 4 else 0
        if size not in (348, 540):
            size = struct.unpack(">i", head)[0] if len(head) == 4 else 0
        klass = nib.Nifti2Image if size == 540 else nib.Nifti1Image
        holder = nib.fileholders.FileHolder(fileobj=fileobj)
        return klass.from_file_map({"header": holder, "image": holder})
    except _READ_ERRORS + (nib.filebasedimages.ImageFileError, nib.spatialimages.HeaderDataError) as exc:
        if isinstance(exc, (EOFError, zlib.error, *INFLATE_ERRORS)) or "truncated" in str(exc).lower():
            raise _truncated(path) from exc
        raise CorruptFileError(
            f"{path.name!r} has a damaged NIfTI header ({exc}); re-export the scan.",
            code="corrupt_nifti",
        ) from exc


def _raw_zooms(fileobj) -> list[float]:
    """pixdim[1:4] as stored: nibabel silently turns 0 into 1 and -x into x when it loads."""
    fileobj.seek(0)
    head = fileobj.read(4)
    fileobj.seek(0)
    little = struct.unpack("<i", head)[0] in (348, 540)
    klass = nib.Nifti2Header if struct.unpack("<i" if little else ">i", head)[0] == 540 else nib.Nifti1Header
    raw = klass.from_fileobj(fileobj, check=False)
    fileobj.seek(0)
    return [float(v) for v in raw["pixdim"][1:4]]


def _refuse_unsupported_type(img, path: Path) -> None:
    dtype = img.get_data_dtype()
    if dtype.fields is not None or np.issubdtype(dtype, np.complexfloating):
        raise InputError(
            f"{path.name!r} stores {dtype} voxels (colour or complex); a grey-value scan is needed.",
            code="unsupported_voxel_type",
        )


def _first_volume_bytes(img) -> int:
    # Scaled data become float32 in memory, so count at least 4 bytes a voxel for those.
    itemsize = max(img.get_data_dtype().itemsize, 4 if img.dataobj.slope != 1 or img.dataobj.inter != 0 else 1)
    return int(np.prod(img.shape[:3])) * itemsize


def _truncated(path: Path) -> CorruptFileError:
    return CorruptFileError(
        f"{path.name!r} ends before all of its voxels (the file is truncated or damaged); upload "
        "the complete file again.",
        code="truncated_file",
    )
