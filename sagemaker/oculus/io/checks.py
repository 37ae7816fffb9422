"""Sanity checks every loaded volume passes before any engine sees it."""

from __future__ import annotations

import numpy as np

from ..errors import InputError, InvalidGeometryError, InvalidVoxelsError

# From sub-micron microscopy to a 1 m voxel: anything outside is a damaged header, and would
# turn into absurd volumes (mL) and meshes.
PLAUSIBLE_VOXEL_MM = (1e-4, 1e3)


def check_spacing(affine: np.ndarray, zooms=None) -> None:
    """Refuse zero, negative, non-finite or implausible voxel sizes and singular (flat) grids."""
    affine = np.asarray(affine, dtype=float)
    columns = np.linalg.norm(affine[:3, :3], axis=0)
    values = list(columns) if zooms is None else list(columns) + [float(z) for z in zooms]
    if not np.all(np.isfinite(affine)) or any(not np.isfinite(v) or v <= 0 for v in values):
        shown = ", ".join(f"{float(v):g}" for v in (zooms if zooms is not None else columns))
        raise InvalidGeometryError(
            f"The scan's voxel spacing ({shown} mm) is zero, negative or not a number; the file's "
            "header is damaged. Re-export the scan with its real voxel size."
        )
    low, high = PLAUSIBLE_VOXEL_MM
    if any(not low <= v <= high for v in values):
        shown = ", ".join(f"{float(v):g}" for v in (zooms if zooms is not None else columns))
        raise InvalidGeometryError(
            f"The scan's voxel spacing ({shown} mm) is outside {low:g}-{high:g} mm, which no "
            "scanner produces; the file's header is damaged. Re-export the scan with its real "
            "voxel size."
        )
    if abs(np.linalg.det(affine[:3, :3])) < 1e-9 * float(np.prod(columns)):
        raise InvalidGeometryError(
            "The scan's orientation matrix is degenerate (its axes are parallel); re-export the scan "
            "with a valid orientation."
        )


def check_finite(data: np.ndarray) -> None:
    """Refuse NaN or infinite voxels, saying how many there are."""
    if not np.issubdtype(data.dtype, np.floating):
        return
    bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise InvalidVoxelsError(
            f"The scan contains {bad} voxels that are NaN or infinite (of {data.size}); replace them "
            "with real values (e.g. the background value) and upload again."
        )


def check_size(nbytes: int, limit: int, what: str) -> None:
    if nbytes > limit:
        raise InputError(
            f"{what} would need {nbytes / 1024**2:.0f} MiB in memory; the limit is "
            f"{limit / 1024**2:.0f} MiB. Crop or downsample the scan and upload again.",
            code="scan_too_large",
        )


def require_3d(shape: tuple[int, ...], what: str) -> None:
    if len(shape) < 3 or any(int(s) < 2 for s in shape[:3]):
        raise InputError(
            f"{what} is a 2D image (shape {tuple(int(s) for s in shape)}); a 3D volume with several "
            "slices is needed. For a single slice use tumour classification instead.",
            code="not_3d",
        )


def wrap_unexpected(func):
    """Turn any exception a reader library raises past our checks into a typed input error.

    Parsers of nibabel, pydicom, zlib and zipfile raise a zoo of types on hostile files; the
    engine must answer every bad upload with a code, so whatever slips past the specific
    handlers becomes ``unreadable_file`` (the original stays chained for the logs).
    """
    import functools

    from ..errors import CorruptFileError, OculusError

    @functools.wraps(func)
    def wrapper(path, *args, **kwargs):
        try:
            return func(path, *args, **kwargs)
        except (OculusError, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - see docstring
            name = getattr(path, "name", str(path))
            raise CorruptFileError(
                f"{name!r} could not be read ({type(exc).__name__}: {exc}); the file is damaged or "
                "not a standard scan. Re-export it and upload again.",
                code="unreadable_file",
            ) from exc

    return wrapper
