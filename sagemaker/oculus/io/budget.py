"""Decompression budgets: no input may make the engine spend memory its header does not declare.

Every compressed layer an upload can hide behind gets a budget tied to the pixel count its
header declares and to the memory this process may use, and is refused with a code *before*
that memory is spent:

- Deflated Explicit VR DICOM: pydicom inflates the whole dataset before any header check, so
  the deflate stream is inflated here first, chunk by chunk with ``max_length`` and nothing
  kept but a short prefix (for the header), and refused once it passes header + declared pixels.
- gzip NIfTI: nibabel reads exactly the bytes the header declares; the declared volume is
  checked against ``max_scan_bytes()`` before reading (``nifti.read_nifti``).
- ZIP members: ``archive.safe_extract`` counts real bytes; a member that is itself compressed
  (a deflated DICOM) then passes through the DICOM guard here.
- Image decoders (PNG/JPEG, JPEG 2000 inside DICOM): Pillow's own bomb limit is set to
  ``max_image_pixels()``.
"""

from __future__ import annotations

import os
import resource
import struct
import zlib
from io import BytesIO
from pathlib import Path

from ..errors import InputError

#: Whole-process memory when nothing narrower is known (cgroup, rlimit, env).
_FALLBACK_MEMORY = 16 * 1024**3
#: A loaded volume is copied a few times (float copy, label map, masks): it may take this share.
_SCAN_SHARE = 4
#: A single 2D image (classification) may be at most this many pixels.
_MAX_IMAGE_PIXELS = 64_000_000
#: DICOM elements other than pixels (headers, overlays, private tags) are never bigger than this.
_HEADER_ALLOWANCE = 16 * 1024**2
_PREFIX = 256 * 1024  # inflated bytes kept to read the header from
_CHUNK = 1 << 20
DEFLATED_TS = "1.2.840.10008.1.2.1.99"


def memory_limit_bytes() -> int:
    """The memory this process may use: ``OCULUS_MEMORY_LIMIT_BYTES``, else the tightest of the
    cgroup limit, RLIMIT_AS/RLIMIT_DATA and physical memory."""
    configured = os.environ.get("OCULUS_MEMORY_LIMIT_BYTES")
    if configured:
        return int(configured)
    limits = [_physical_memory()]
    for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        soft = resource.getrlimit(which)[0]
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            limits.append(soft)
    cgroup = _cgroup_limit()
    if cgroup:
        limits.append(cgroup)
    return min(limits)


def max_scan_bytes() -> int:
    """The most a loaded 3D volume may take in memory (4 GiB at most)."""
    return min(4 * 1024**3, memory_limit_bytes() // _SCAN_SHARE)


def max_image_pixels() -> int:
    return min(_MAX_IMAGE_PIXELS, memory_limit_bytes() // (_SCAN_SHARE * 8))


def configure_pillow(max_pixels: int | None = None) -> None:
    """Pillow raises DecompressionBombError past twice this; JPEG 2000 in DICOM decodes through it."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels or max_image_pixels()


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return _FALLBACK_MEMORY


def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


# --- deflated DICOM ------------------------------------------------------------------------


def check_deflated_dicom(path: Path, *, memory_limit: int | None = None) -> None:
    """Refuse a Deflated Explicit VR DICOM that inflates past what its header declares.

    A no-op for every other file. Raises ``InputError`` with code ``decompression_bomb`` (more
    bytes than header + declared pixels), ``scan_too_large`` (declared pixels past the memory
    this process may use) or ``corrupt_dicom`` (a broken deflate stream).
    """
    start = _deflated_dataset_offset(path)
    if start is None:
        return
    limit = memory_limit if memory_limit is not None else memory_limit_bytes()
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    prefix = bytearray()
    total, budget = 0, None
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            pending = b""
            while True:
                if not pending:
                    pending = fh.read(_CHUNK)
                    if not pending:
                        break
                out = inflater.decompress(pending, _CHUNK)
                pending = inflater.unconsumed_tail
                total += len(out)
                if budget is None:
                    prefix += out[: _PREFIX - len(prefix)]
                    if len(prefix) >= _PREFIX:
                        budget = _budget(path, bytes(prefix), limit)
                if budget is not None and total > budget:
                    raise _bomb(path, budget)
                if inflater.eof:
                    break
        if not inflater.eof:
            raise zlib.error("the deflate stream ends early")
    except zlib.error as exc:
        raise InputError(
            f"{path.name!r} is a deflated DICOM whose compressed data is damaged or truncated; export it again.",
            code="corrupt_dicom",
        ) from exc
    if budget is None and total > _budget(path, bytes(prefix), limit):
        raise _bomb(path, total)


def _deflated_dataset_offset(path: Path) -> int | None:
    """Where the deflate stream starts, or None when the file is not deflated DICOM."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    try:
        with path.open("rb") as fh:
            read_preamble(fh, True)
            meta = _read_file_meta_info(fh)
            offset = fh.tell()
    except Exception:  # noqa: BLE001 - not parsable as DICOM meta: the reader reports it
        return None
    return offset if str(meta.get("TransferSyntaxUID", "")) == DEFLATED_TS else None


def _budget(path: Path, prefix: bytes, memory_limit: int) -> int:
    pixels = declared_pixel_bytes(prefix)
    if pixels > memory_limit // _SCAN_SHARE:
        raise InputError(
            f"{path.name!r} declares {pixels / 1024**2:.0f} MiB of pixels; this engine may use at most "
            f"{memory_limit // _SCAN_SHARE / 1024**2:.0f} MiB for one file. Split or downsample the scan.",
            code="scan_too_large",
        )
    return _HEADER_ALLOWANCE + pixels


def declared_pixel_bytes(header: bytes) -> int:
    """Rows x Columns x frames x samples x bytes per sample, from the start of an Explicit VR
    Little Endian dataset (0 when the header declares no image)."""
    from pydicom.filereader import read_dataset

    def stop(tag, vr, length) -> bool:  # stop at pixels, or at an element the prefix cannot hold
        return tag >= 0x7FE00000 or (length != 0xFFFFFFFF and length > len(header))

    try:
        ds = read_dataset(BytesIO(header), False, True, stop_when=stop)
        rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.get("BitsAllocated", 16) or 16)
    except (Exception, struct.error):  # noqa: BLE001 - a header that cannot be read declares nothing
        return 0
    return max(rows, 0) * max(columns, 0) * max(frames, 1) * max(samples, 1) * ((max(bits, 1) + 7) // 8)


def _bomb(path: Path, budget: int) -> InputError:
    return InputError(
        f"{path.name!r} is a deflated DICOM that inflates past {budget / 1024**2:.0f} MiB, more than its "
        "header declares: it looks like a decompression bomb and was not read.",
        code="decompression_bomb",
    )
