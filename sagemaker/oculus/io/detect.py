"""Recognise an upload by its content, never by its file name."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

from ..errors import CorruptFileError, UnsupportedFormatError

ACCEPTED = (
    "NIfTI (.nii, .nii.gz), a DICOM series (folder or .zip), a single multi-frame DICOM, "
    "or for classification a JPEG, PNG or single-frame DICOM image"
)

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a file entry, or the end record of an empty zip
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
#: DICOM files without the 128-byte preamble start with a group-0002/0008 tag.
_DICOM_GROUPS = (0x0002, 0x0008)


def detect_format(path: Path | str) -> str:
    """Return "nifti", "dicom", "zip", "directory", "jpeg" or "png".

    Raises ``UnsupportedFormatError`` (code ``not_a_scan``) for anything else and
    ``CorruptFileError`` (``truncated_file``) for a gzip stream too short to hold a header.
    """
    path = Path(path)
    if path.is_dir():
        return "directory"
    if not path.is_file():
        raise UnsupportedFormatError(f"No file was found at {path.name!r}.", code="file_not_found")
    head = _read_head(path, 1024)
    if head.startswith(_GZIP_MAGIC):
        if _is_nifti_header(_gunzip_head(path, 544)):
            return "nifti"
        raise _not_a_scan(path, "a gzip file that does not contain a NIfTI image")
    if _is_nifti_header(head):
        return "nifti"
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head.startswith(_JPEG_MAGIC):
        return "jpeg"
    if _is_dicom_without_preamble(path, head):
        return "dicom"
    raise _not_a_scan(path, "not a recognised medical image or picture")


def _not_a_scan(path: Path, what: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        f"{path.name!r} is {what}. Accepted: {ACCEPTED}.", code="not_a_scan"
    )


def _read_head(path: Path, n: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _gunzip_head(path: Path, n: int) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            head = fh.read(n)
    except (EOFError, OSError, zlib.error) as exc:
        raise CorruptFileError(
            f"{path.name!r} is a truncated or damaged gzip file; upload it again in full.",
            code="truncated_file",
        ) from exc
    return head


def _is_nifti_header(head: bytes) -> bool:
    """NIfTI-1 (348-byte header, magic at 344) or NIfTI-2 (540 bytes, magic at 4), either endian."""
    if len(head) >= 348:
        size = head[:4]
        if size in (struct.pack("<i", 348), struct.pack(">i", 348)) and head[344:347] in (b"n+1", b"ni1"):
            return True
    if len(head) >= 540:
        size = head[:4]
        if size in (struct.pack("<i", 540), struct.pack(">i", 540)) and head[4:7] in (b"n+2", b"ni2"):
            return True
    return False


def _is_dicom_without_preamble(path: Path, head: bytes) -> bool:
    if len(head) < 8:
        return False
    groups = {struct.unpack("<H", head[:2])[0], struct.unpack(">H", head[:2])[0]}
    if not groups & set(_DICOM_GROUPS):
        return False
    import pydicom

    from .budget import check_deflated_dicom

    check_deflated_dicom(path)
    try:
        ds = pydicom.dcmread(path, force=True, defer_size=1024)
        return "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
    except Exception:  # noqa: BLE001 - any parse failure simply means "not DICOM"
        return False
