"""Safe ZIP extraction: escaping names, links, zip bombs and lying headers."""

from __future__ import annotations

import io
import stat
import struct
import zipfile

import pytest

from oculus.errors import ArchiveTooLargeError, CorruptFileError, UnsafeArchiveError
from oculus.io import load_volume, safe_extract

LIMITS = {"max_total_bytes": 64 * 1024**2, "max_ratio": 100.0, "max_members": 50}


def _files_under(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture()
def dest(tmp_path):
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder


def _zip(path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_ordinary_archive_extracts(tmp_path, dest):
    archive = _zip(tmp_path / "ok.zip", {"a/one.dcm": b"1" * 10, "a/b/two.dcm": bytes(range(256)) * 4})
    written = safe_extract(archive, dest, **LIMITS)
    assert sorted(written) == _files_under(dest)
    assert (dest / "a" / "b" / "two.dcm").read_bytes() == bytes(range(256)) * 4


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:/evil.txt", "..\\evil.txt"])
def test_escaping_names_refused(tmp_path, dest, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fine.txt", b"ok")
        zf.writestr(zipfile.ZipInfo(name), b"owned")  # ZipInfo keeps the raw name
    with pytest.raises(UnsafeArchiveError) as err:
        safe_extract(archive, dest, **LIMITS)
    assert err.value.code == "unsafe_archive"
    assert _files_under(dest) == []  # even the harmless member written first is removed
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_member_refused(tmp_path, dest):
    archive = tmp_path / "link.zip"
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError) as err:
        safe_extract(archive, dest, **LIMITS)
    assert err.value.code == "unsafe_archive"
    assert _files_under(dest) == []


def test_zip_bomb_refused_by_declared_ratio(tmp_path, dest):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * (20 * 1024**2)})
    with pytest.raises(ArchiveTooLargeError) as err:
        safe_extract(archive, dest, **LIMITS)
    assert err.value.code == "archive_too_large"
    assert _files_under(dest) == []


def test_zip_too_large_in_total(tmp_path, dest):
    payload = bytes(range(256)) * 4096  # 1 MiB, hardly compressible ratio-wise
    archive = _zip(tmp_path / "big.zip", {f"f{i}.bin": payload for i in range(3)}, zipfile.ZIP_STORED)
    with pytest.raises(ArchiveTooLargeError):
        safe_extract(archive, dest, max_total_bytes=2 * 1024**2, max_ratio=100.0, max_members=50)
    assert _files_under(dest) == []


def test_too_many_members(tmp_path, dest):
    archive = _zip(tmp_path / "many.zip", {f"f{i}": b"x" for i in range(60)})
    with pytest.raises(ArchiveTooLargeError):
        safe_extract(archive, dest, **LIMITS)


def _patch_sizes(archive, *, compress_size=None, file_size=None):
    """Rewrite the sizes in both the local header and the central directory."""
    raw = bytearray(archive.read_bytes())
    local = raw.index(b"PK\x03\x04")
    central = raw.index(b"PK\x01\x02")
    for offset, value in ((local + 18, compress_size), (central + 20, compress_size),
                          (local + 22, file_size), (central + 24, file_size)):
        if value is not None:
            raw[offset:offset + 4] = struct.pack("<I", value)
    archive.write_bytes(bytes(raw))


def test_lying_header_understating_size_is_refused(tmp_path, dest):
    archive = _zip(tmp_path / "liar.zip", {"zeros.bin": b"\0" * (20 * 1024**2)})
    _patch_sizes(archive, file_size=1000)  # claims 1000 bytes: passes every declared check
    with pytest.raises(CorruptFileError) as err:
        safe_extract(archive, dest, **LIMITS)
    assert err.value.code == "corrupt_archive"
    assert _files_under(dest) == []


def test_lying_header_hiding_ratio_is_refused(tmp_path, dest):
    archive = _zip(tmp_path / "liar2.zip", {"zeros.bin": b"\0" * (20 * 1024**2)})
    _patch_sizes(archive, compress_size=20 * 1024**2)  # claims 1:1 compression
    with pytest.raises(ArchiveTooLargeError):
        safe_extract(archive, dest, **LIMITS)
    assert _files_under(dest) == []


def test_bytes_written_are_counted_even_if_the_zip_library_trusts_the_data(tmp_path, dest, monkeypatch):
    """Defence in depth: a member that streams more than declared is stopped by the counter."""
    archive = _zip(tmp_path / "small.zip", {"a.bin": bytes(range(256)) * 4})
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, member, *a, **k: io.BytesIO(b"\0" * (8 * 1024**2)))
    with pytest.raises(ArchiveTooLargeError) as err:
        safe_extract(archive, dest, **LIMITS)
    assert "understates" in err.value.message
    assert _files_under(dest) == []


def test_not_a_zip(tmp_path, dest):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(CorruptFileError) as err:
        safe_extract(fake, dest, **LIMITS)
    assert err.value.code == "corrupt_archive"


def test_existing_files_in_destination_are_never_touched(tmp_path, dest):
    (dest / "keep.txt").write_text("mine")
    archive = _zip(tmp_path / "dup.zip", {"keep.txt": b"theirs"})
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, dest, **LIMITS)
    assert (dest / "keep.txt").read_text() == "mine"


def test_load_volume_refuses_traversal_zip_and_writes_nothing_outside(tmp_path):
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("../../escaped.dcm"), b"x")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(UnsafeArchiveError):
        load_volume(archive, work_dir=work)
    assert list(work.iterdir()) == []
    assert not (tmp_path / "escaped.dcm").exists() and not (tmp_path.parent / "escaped.dcm").exists()


def test_load_volume_refuses_zip_bomb(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.dcm": b"\0" * (20 * 1024**2)})
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ArchiveTooLargeError):
        load_volume(archive, work_dir=work)
    assert list(work.iterdir()) == []
