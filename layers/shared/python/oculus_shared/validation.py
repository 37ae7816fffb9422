"""Upload rules: file name, declared size, extension, and the format sniffed from the first
bytes of the stored object. Pure functions; no AWS."""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from .errors import PayloadTooLarge, Unprocessable
from .jobs import JobKind, Task

MAX_FILENAME_LENGTH = 128
# Letters, digits, dot, dash, underscore, space, parentheses; no path separators, no control chars.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\- ()]*$")


@dataclass(frozen=True)
class FileType:
    extension: str
    kind: JobKind
    #: formats ``sniff_format`` may detect for this extension
    formats: frozenset[str]
    #: tasks this input can feed
    tasks: frozenset[Task]


_VOL, _IMG = JobKind.VOLUME, JobKind.IMAGE
_SEG, _CLS = Task.TOTALSEG, Task.CLASSIFY
# Longest suffix first so ".nii.gz" wins over ".gz".
FILE_TYPES: tuple[FileType, ...] = (
    FileType(".nii.gz", _VOL, frozenset({"nifti1-gz", "nifti2-gz"}), frozenset({_SEG})),
    FileType(".nii", _VOL, frozenset({"nifti1", "nifti2"}), frozenset({_SEG})),
    FileType(".zip", _VOL, frozenset({"zip"}), frozenset({_SEG})),
    # A .dcm may be a multi-frame volume or a single slice: the engine decides.
    FileType(".dcm", _VOL, frozenset({"dicom"}), frozenset({_SEG, _CLS})),
    FileType(".jpg", _IMG, frozenset({"jpeg"}), frozenset({_CLS})),
    FileType(".jpeg", _IMG, frozenset({"jpeg"}), frozenset({_CLS})),
    FileType(".png", _IMG, frozenset({"png"}), frozenset({_CLS})),
)
ALLOWED_EXTENSIONS = tuple(t.extension for t in FILE_TYPES)


def check_filename(filename: str) -> str:
    """Return the name if it is a safe single path segment, else raise ``invalid_filename``."""
    if not isinstance(filename, str) or not filename:
        raise Unprocessable("a file name is required", code="invalid_filename")
    if len(filename) > MAX_FILENAME_LENGTH:
        raise Unprocessable(
            f"the file name is longer than {MAX_FILENAME_LENGTH} characters", code="invalid_filename"
        )
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        raise Unprocessable("the file name must not contain path parts", code="invalid_filename")
    if not _SAFE_NAME.match(filename) or ".." in filename:
        raise Unprocessable(
            "the file name may only use letters, digits, spaces and . _ - ( )",
            code="invalid_filename",
        )
    return filename


def file_type_of(filename: str) -> FileType:
    lower = filename.lower()
    for file_type in FILE_TYPES:
        if lower.endswith(file_type.extension) and len(lower) > len(file_type.extension):
            return file_type
    raise Unprocessable(
        f"unsupported file type; allowed: {', '.join(ALLOWED_EXTENSIONS)}",
        code="unsupported_extension",
    )


def check_size(size: int, max_bytes: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise Unprocessable("the declared size must be a positive number of bytes", code="invalid_size")
    if size > max_bytes:
        raise PayloadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")
    return size


#: bytes ``sniff_format`` needs from the start of the object
SNIFF_BYTES = 64 * 1024


def _nifti_version(header: bytes) -> int | None:
    if len(header) >= 348:
        for endian in ("<", ">"):
            (sizeof_hdr,) = struct.unpack(endian + "i", header[:4])
            if sizeof_hdr == 348 and header[344:347] in (b"n+1", b"ni1"):
                return 1
    if len(header) >= 540:
        for endian in ("<", ">"):
            (sizeof_hdr,) = struct.unpack(endian + "i", header[:4])
            if sizeof_hdr == 540 and header[4:7] in (b"n+2", b"ni2"):
                return 2
    return None


def _gunzip_head(data: bytes, size: int = 1024) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, size)
    except zlib.error:
        return b""


def sniff_format(head: bytes) -> str | None:
    """Name the format of an object from its first bytes, or None when unknown."""
    if head[:2] == b"\x1f\x8b":
        version = _nifti_version(_gunzip_head(head))
        return f"nifti{version}-gz" if version else "gzip"
    version = _nifti_version(head)
    if version:
        return f"nifti{version}"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return None


def check_content(filename: str, head: bytes) -> str:
    """The detected format, if it is one the file's extension allows; else a typed error."""
    expected = file_type_of(filename)
    detected = sniff_format(head)
    if detected is None:
        raise Unprocessable("the file's content is not a recognised scan or image", code="unknown_format")
    if detected not in expected.formats:
        raise Unprocessable(
            f"the content ({detected}) does not match the extension {expected.extension}",
            code="format_mismatch",
        )
    return detected


def check_task_for_input(filename: str, task: Task) -> None:
    if task not in file_type_of(filename).tasks:
        raise Unprocessable(
            f"a {file_type_of(filename).extension} file cannot be used for {task.value}",
            code="task_not_supported_for_input",
        )
