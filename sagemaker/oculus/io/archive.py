"""Safe extraction of uploaded ZIP archives (DICOM series arrive zipped).

An upload is untrusted: member names may try to escape the destination (absolute paths,
``..``), members may be symlinks, and a small archive may expand to terabytes (zip bomb).
Limits are checked twice: first on the sizes the archive declares, then on the bytes actually
written, because a crafted header can understate what a member expands to.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..errors import ArchiveTooLargeError, CorruptFileError, UnsafeArchiveError

DEFAULT_MAX_TOTAL_BYTES = 4 * 1024**3
#: Uncompressed CT DICOM compresses 2-5x; padded images maybe 20x. Bombs reach 1000x+.
DEFAULT_MAX_RATIO = 200.0
DEFAULT_MAX_MEMBERS = 20_000

_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_extract(
    zip_path: Path | str,
    dest: Path | str,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> list[Path]:
    """Extract ``zip_path`` into the existing directory ``dest``; return the files written.

    Raises ``UnsafeArchiveError`` (code ``unsafe_archive``) for escaping names, symlinks or
    encrypted members, ``ArchiveTooLargeError`` (``archive_too_large``) past a limit, and
    ``CorruptFileError`` (``corrupt_archive``) for damaged archives. On any error the files
    already written are removed again.
    """
    zip_path, dest = Path(zip_path), Path(dest).resolve()
    if not dest.is_dir():
        raise ValueError(f"extraction destination {dest} is not a directory")
    written: list[Path] = []
    try:
        with _open_zip(zip_path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            _check_declared(members, zip_path.stat().st_size, max_total_bytes, max_ratio, max_members)
            # Budget on real bytes: never more than the limit, nor ratio x the archive's size.
            budget = min(max_total_bytes, int(max_ratio * max(zip_path.stat().st_size, 1)))
            for member in members:
                target = _safe_target(dest, member)
                _make_parent(target, member)
                written.append(target)
                budget -= _copy_member(archive, member, target, budget, max_ratio)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(
            "The ZIP archive is damaged or incomplete and cannot be opened; re-create it and upload again.",
            code="corrupt_archive",
        ) from exc


def _check_declared(members, archive_size: int, max_total: int, max_ratio: float, max_members: int) -> None:
    if len(members) > max_members:
        raise ArchiveTooLargeError(
            f"The ZIP archive has {len(members)} files; at most {max_members} are accepted."
        )
    declared = sum(m.file_size for m in members)
    if declared > max_total:
        raise ArchiveTooLargeError(
            f"The ZIP archive expands to {declared} bytes; the limit is {max_total} bytes."
        )
    for m in members:
        if m.file_size > max_ratio * max(m.compress_size, 1):
            raise ArchiveTooLargeError(
                f"A file in the ZIP archive ({m.filename!r}) is compressed more than {max_ratio:g}:1, "
                "which looks like a zip bomb; it was not extracted."
            )
    if declared > max_ratio * max(archive_size, 1):
        raise ArchiveTooLargeError(
            f"The ZIP archive expands more than {max_ratio:g} times its own size, which looks like a zip bomb."
        )


def _safe_target(dest: Path, member: zipfile.ZipInfo) -> Path:
    name = member.filename
    unsafe = UnsafeArchiveError(
        f"The ZIP archive contains an unsafe entry ({name!r}): absolute paths, '..' and links are "
        "not allowed. Zip the files with relative paths only."
    )
    if "\x00" in name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise unsafe
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or any(p in ("..", "") for p in parts):
        raise unsafe
    if stat.S_ISLNK(member.external_attr >> 16):
        raise unsafe
    if member.flag_bits & 0x1:
        raise UnsafeArchiveError(
            f"The ZIP archive entry {name!r} is encrypted; upload an archive without a password.",
            code="encrypted_archive",
        )
    target = dest.joinpath(*parts).resolve()
    if dest not in target.parents:
        raise unsafe
    return target


def _make_parent(target: Path, member: zipfile.ZipInfo) -> None:
    if target.exists():
        # Never overwrite (or later delete) a file this extraction did not create.
        raise UnsafeArchiveError(
            f"The ZIP archive contains {member.filename!r} twice; upload an archive without duplicates."
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorruptFileError(
            f"The ZIP archive entry {member.filename!r} clashes with another entry of the same name.",
            code="corrupt_archive",
        ) from exc


def _copy_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, budget: int, max_ratio: float) -> int:
    """Stream one member to ``target`` counting real bytes; return how many were written."""
    per_member_cap = int(max_ratio * max(member.compress_size, 1))
    count = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError as exc:
        raise UnsafeArchiveError(
            f"The ZIP archive contains {member.filename!r} twice; upload an archive without duplicates."
        ) from exc
    try:
        with os.fdopen(fd, "wb") as out, archive.open(member) as src:
            while chunk := src.read(_CHUNK):
                count += len(chunk)
                if count > budget or count > per_member_cap:
                    raise ArchiveTooLargeError(
                        f"The ZIP archive expands past its limits while extracting {member.filename!r} "
                        "(its header understates the size); it looks like a zip bomb and was not extracted."
                    )
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise CorruptFileError(
            f"The ZIP archive entry {member.filename!r} is damaged or uses an unsupported compression "
            "method; re-create the archive with standard (deflate) compression.",
            code="corrupt_archive",
        ) from exc
    return count
