"""The gzip reader NIfTI loading goes through (oculus.io.inflate), against Python's gzip module."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

from oculus.io import inflate
from oculus.io.inflate import InflatingReader
from oculus.io.nifti import read_nifti

CONTENT = np.random.default_rng(3).integers(0, 4, 3_000_000, dtype=np.uint8).tobytes()


@pytest.fixture()
def gz(tmp_path):
    path = tmp_path / "content.gz"
    path.write_bytes(gzip.compress(CONTENT, compresslevel=1))
    return path


@pytest.mark.parametrize("input_bytes", [4096, inflate.INPUT_BYTES])
def test_reads_what_gzip_reads_with_seeks_back_and_forth(gz, monkeypatch, input_bytes):
    monkeypatch.setattr(inflate, "KEEP_BYTES", 1000)  # seeking back past it inflates again
    monkeypatch.setattr(inflate, "INPUT_BYTES", input_bytes)  # compressed input read at a time
    reader = InflatingReader(gz)
    assert reader.read(4) == CONTENT[:4]
    reader.seek(0)
    assert reader.read(348) == CONTENT[:348]
    reader.seek(2_000_000)  # forward, skipping
    assert reader.read(10) == CONTENT[2_000_000:2_000_010]
    reader.seek(990)  # across the end of the kept prefix
    assert reader.read(20) == CONTENT[990:1010]
    reader.seek(5000)  # behind the stream, not kept
    assert reader.tell() == 5000
    target = bytearray(len(CONTENT))
    assert reader.readinto(target) == len(CONTENT) - 5000
    assert bytes(target[: len(CONTENT) - 5000]) == CONTENT[5000:]
    assert reader.read(10) == b""


def test_concatenated_members_read_as_one_stream(tmp_path):
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(CONTENT[:1000], compresslevel=1) + gzip.compress(CONTENT[1000:], compresslevel=1))
    assert InflatingReader(path).read() == CONTENT
    reader = InflatingReader(path)
    reader.seek(995)
    assert reader.read(10) == CONTENT[995:1005]


def test_a_cut_or_damaged_stream_raises_as_gzip_does(gz, tmp_path):
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gz.read_bytes()[: gz.stat().st_size // 2])
    reader = InflatingReader(cut)
    assert reader.read(1000) == CONTENT[:1000]  # what is there reads
    with pytest.raises(EOFError):
        InflatingReader(cut).read(len(CONTENT))
    with pytest.raises(EOFError):  # as gzip.open
        gzip.open(cut).read(len(CONTENT))
    damaged = bytearray(gz.read_bytes())
    damaged[20:200] = bytes(180)
    bad = tmp_path / "bad.gz"
    bad.write_bytes(bytes(damaged))
    with pytest.raises(inflate.INFLATE_ERRORS):
        InflatingReader(bad).read(len(CONTENT))


def test_reads_and_inflates_only_what_is_asked_for(gz, monkeypatch):
    # the header of a scan past the budget, or the first volume of a 4D series, costs no more
    monkeypatch.setattr(inflate, "INPUT_BYTES", 4096)
    with InflatingReader(gz) as reader:
        reader.read(100)
        assert reader._inflated < 100_000  # noqa: SLF001
        assert reader._file.tell() <= 4096 < gz.stat().st_size  # noqa: SLF001
    assert reader._file.closed  # noqa: SLF001


def test_nifti_through_it_equals_nibabels_own_load(tmp_path):
    data = np.random.default_rng(5).integers(-1000, 2000, (40, 30, 20), dtype=np.int16)
    path = tmp_path / "scan.nii.gz"
    image = nib.Nifti1Image(data, np.diag([0.8, 0.8, 2.0, 1.0]))
    image.header.extensions.append(nib.nifti1.Nifti1Extension(40, b"x" * 3000))  # vox_offset past 3 KB
    nib.save(image, path)
    loaded, affine, warnings = read_nifti(path, max_uncompressed_bytes=1 << 30)
    reference = nib.load(path)
    assert np.array_equal(loaded, np.asarray(reference.dataobj)) and loaded.dtype == np.int16
    assert np.allclose(affine, reference.affine) and warnings == []
