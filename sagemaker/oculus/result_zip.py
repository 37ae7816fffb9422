"""result.zip: the in-ZIP result files, sorted, with fixed timestamps (byte-identical reruns).

Already-compressed files and the GLB are stored, text deflated (ISA-L level 1: about a quarter
of zlib level 1's CPU for a slightly smaller member; any unzip reads it); classic ZIP, ZIP64
only past 4 GB. Members may be compressed ahead (``zip_member``, by the thread that wrote the
file, or ``MemberWriter``, while it is written) so packaging only concatenates: nothing is
compressed twice.
"""

from __future__ import annotations

import struct
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from isal import isal_zlib

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# stored as is: already compressed, or float32 binary that deflate shrinks by only ~10 %
_STORED = (".gz", ".png", ".zip", ".glb")
_DOS_DATE = ((_ZIP_TIME[0] - 1980) << 9) | (_ZIP_TIME[1] << 5) | _ZIP_TIME[2]
_DOS_TIME = (_ZIP_TIME[3] << 11) | (_ZIP_TIME[4] << 5) | (_ZIP_TIME[5] // 2)

ZipMember = tuple[int, int, int, bytes]  # (method, crc32, uncompressed size, stored bytes)


class _MemberBody:
    """A member's content taken in order: its CRC, size and stored bytes (deflated unless the
    name is one of ``_STORED``), the one rule ``zip_member`` and ``MemberWriter`` share."""

    def __init__(self, name: str) -> None:
        self.stored = name.endswith(_STORED)
        self._compressor = None if self.stored else isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)  # raw, as in a ZIP
        self._crc, self._size, self._parts = 0, 0, []

    def add(self, chunk) -> None:
        self._crc = isal_zlib.crc32(chunk, self._crc)
        self._size += len(chunk)
        self._parts.append((chunk if isinstance(chunk, bytes) else bytes(chunk)) if self._compressor is None
                           else self._compressor.compress(chunk))

    def finish(self) -> ZipMember:
        if self._compressor is not None:
            self._parts.append(self._compressor.flush())
        method = zipfile.ZIP_STORED if self.stored else zipfile.ZIP_DEFLATED
        return method, self._crc, self._size, b"".join(self._parts)


def zip_member(name: str, data: bytes) -> ZipMember:
    """One member, compressed the way ``write_zip`` stores a file of that name."""
    body = _MemberBody(name)
    body.add(data)
    return body.finish()


class MemberWriter:
    """A binary file whose ZIP member is compressed as it is written: each chunk goes to the
    disk and, on a thread of its own, through the member's compressor (ISA-L releases the GIL),
    so a text writer's formatting and the compression overlap instead of the file being read
    back and compressed after it. ``member`` (``zip_member``'s answer, the same content) once
    closed without error. The chunks written must not change afterwards: the thread reads them
    later.
    """

    def __init__(self, path: Path) -> None:
        self.member: ZipMember | None = None
        self._body = _MemberBody(path.name)
        self._added: list[Future] = []
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="zip-member")  # one: chunks in order
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()

    def write(self, chunk) -> int:
        self._file.write(chunk)
        self._added.append(self._thread.submit(self._body.add, chunk))
        return len(chunk)

    def close(self) -> None:
        try:
            self._file.close()
            for added in self._added:
                added.result()  # in order; a compressor's error surfaces here
            self.member = self._body.finish()
        finally:
            self._added.clear()
            self._thread.shutdown(cancel_futures=True)

    def __enter__(self) -> MemberWriter:
        return self

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is None:
            self.close()
            return
        self._thread.shutdown(cancel_futures=True)  # the file is not whole: no member
        self._file.close()


def write_zip(out_dir: Path, names: list[str], zip_path: Path, members: dict[str, ZipMember] | None = None) -> None:
    """ZIP of the named files under ``out_dir``; ``members``: those already compressed."""
    members = dict(members or {})
    for name in names:
        if name not in members:
            members[name] = zip_member(name, (out_dir / name).read_bytes())
    if len(names) >= 0xFFFF or sum(len(members[n][3]) + 100 + len(n) for n in names) >= 0xFFFFFFFF:
        _write_zip64(out_dir, names, zip_path)
        return
    central, offset = [], 0
    with open(zip_path, "wb") as out:
        for name in sorted(names):
            method, crc, size, body = members[name]
            encoded = name.encode()
            fields = (20, 0, method, _DOS_TIME, _DOS_DATE, crc, len(body), size, len(encoded), 0)
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded)
            out.write(body)
            central.append(struct.pack("<IH", 0x02014B50, 3 << 8 | 20) + struct.pack("<HHHHHIIIHH", *fields)
                           + struct.pack("<HHHII", 0, 0, 0, 0o644 << 16, offset) + encoded)
            offset += 30 + len(encoded) + len(body)
        directory = b"".join(central)
        out.write(directory)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0))


def _write_zip64(out_dir: Path, names: list[str], zip_path: Path) -> None:
    """The same archive through zipfile, for the rare job past the classic ZIP's 4 GB limits."""
    with zipfile.ZipFile(zip_path, "w", allowZip64=True) as archive:
        for name in sorted(names):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED if name.endswith(_STORED) else zipfile.ZIP_DEFLATED
            archive.writestr(info, (out_dir / name).read_bytes(), compresslevel=1)
