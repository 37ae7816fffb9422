"""One entry point for every 3D input: NIfTI, DICOM series (folder or ZIP), multi-frame DICOM.

pydicom and Pillow are imported only for DICOM input: a NIfTI job does not pay their ~0.5 s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import InputError
from ..volume import Volume
from .archive import DEFAULT_MAX_MEMBERS, DEFAULT_MAX_RATIO, safe_extract
from .budget import configure_pillow, max_scan_bytes
from .checks import wrap_unexpected
from .detect import detect_format
from .nifti import load_nifti


@wrap_unexpected
def load_volume(
    path: Path | str,
    *,
    max_uncompressed_bytes: int | None = None,
    work_dir: Path | str | None = None,
) -> Volume:
    """Load a 3D scan as a Volume with a voxel -> RAS+ mm affine.

    A ZIP is extracted (safely, within ``max_uncompressed_bytes``) into a temporary folder
    under ``work_dir`` (the system temp dir when None) that is removed before returning.
    Every failure is an ``oculus.errors.InputError`` subclass with a stable code.
    """
    path = Path(path)
    # by default, what this process may spend on one volume (io.budget)
    max_uncompressed_bytes = max_uncompressed_bytes or max_scan_bytes()
    kind = detect_format(path)
    if kind == "nifti":
        return load_nifti(path, max_uncompressed_bytes=max_uncompressed_bytes)
    if kind == "directory":
        return _dicom().load_series(path, max_uncompressed_bytes=max_uncompressed_bytes)
    if kind == "zip":
        return _load_zip(path, max_uncompressed_bytes, work_dir)
    if kind == "dicom":
        return _dicom().load_multiframe(path, max_uncompressed_bytes=max_uncompressed_bytes)
    raise InputError(
        f"{path.name!r} is a 2D {kind.upper()} picture; 3D segmentation needs a CT or MR volume "
        "(NIfTI, DICOM series or multi-frame DICOM). Use tumour classification for 2D images.",
        code="not_3d",
    )


def _load_zip(path: Path, max_bytes: int, work_dir: Path | str | None) -> Volume:
    with tempfile.TemporaryDirectory(prefix="oculus-zip-", dir=work_dir) as tmp:
        safe_extract(path, Path(tmp), max_total_bytes=max_bytes, max_ratio=DEFAULT_MAX_RATIO,
                     max_members=DEFAULT_MAX_MEMBERS)
        return _dicom().load_series(Path(tmp), max_uncompressed_bytes=max_bytes)


def _dicom():
    from . import dicom

    configure_pillow()  # JPEG 2000 slices decode through Pillow
    return dicom
