"""result.zip's members, compressed ahead (``zip_member``) or while written (``MemberWriter``),
read back with Python's own zlib and zipfile."""

from __future__ import annotations

import threading
import zipfile
import zlib

import numpy as np
import pytest

from oculus.result_zip import MemberWriter, write_zip, zip_member


def _chunks():
    rng = np.random.default_rng(7)
    text = np.frombuffer(b"v 12.3456 -3.2000 7.0001\n" * 20_000, np.uint8)
    return [b"# header\n", text.copy(), rng.integers(0, 256, 300_000, dtype=np.uint8), b"", b"tail\n"]


@pytest.mark.parametrize("name", ["scene.obj", "scene.glb"])
def test_member_written_as_it_goes_is_the_member_of_the_whole_file(tmp_path, name):
    chunks = _chunks()
    data = b"".join(bytes(c) for c in chunks)
    with MemberWriter(tmp_path / name) as out:
        for chunk in chunks:
            out.write(chunk)
    method, crc, size, body = out.member
    assert (tmp_path / name).read_bytes() == data
    assert (method, crc, size) == zip_member(name, data)[:3] == (method, zlib.crc32(data), len(data))
    if name.endswith(".glb"):
        assert method == zipfile.ZIP_STORED and body == data
    else:
        assert method == zipfile.ZIP_DEFLATED and len(body) < len(data) and zlib.decompress(body, -15) == data


def test_member_writer_that_fails_midway_leaves_no_member_and_closes_its_file(tmp_path):
    with pytest.raises(OSError, match="disk full"):
        with MemberWriter(tmp_path / "scene.obj") as out:
            out.write(b"v 1 2 3\n")
            raise OSError(28, "disk full")
    assert out.member is None and out._file.closed
    assert not [t for t in threading.enumerate() if t.name.startswith("zip-member")]  # its thread joined


def test_zip_with_a_member_written_as_it_went_reads_back_every_file(tmp_path):
    chunks = _chunks()
    with MemberWriter(tmp_path / "scene.obj") as out:
        for chunk in chunks:
            out.write(chunk)
    (tmp_path / "report.json").write_text('{"ok": true}')
    write_zip(tmp_path, ["scene.obj", "report.json"], tmp_path / "result.zip", {"scene.obj": out.member})
    with zipfile.ZipFile(tmp_path / "result.zip") as archive:
        assert archive.testzip() is None
        assert archive.read("scene.obj") == (tmp_path / "scene.obj").read_bytes()
        assert archive.read("report.json") == b'{"ok": true}'
