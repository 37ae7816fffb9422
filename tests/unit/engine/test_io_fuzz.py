"""Damaged uploads never crash the loaders: each ends in a result or a typed, coded error."""

from __future__ import annotations

import zipfile

import nibabel as nib
import numpy as np
import pytest

from oculus.errors import OculusError
from oculus.io import load_image, load_label_map, load_volume

CASES = 25


def _mutate(raw: bytes, seed: int) -> bytes:
    """Overwrite a few random bytes, and sometimes cut the tail: typical transfer damage."""
    rng = np.random.default_rng(seed)
    data = bytearray(raw)
    for offset in rng.integers(0, len(data), size=int(rng.integers(1, 12))):
        data[offset] = int(rng.integers(0, 256))
    if rng.random() < 0.3:
        data = data[: int(rng.integers(1, len(data)))]
    return bytes(data)


def _expect_result_or_coded_error(loader, path):
    try:
        loader(path)
    except OculusError as exc:
        assert exc.code and exc.code == exc.code.lower() and " " not in exc.code
        assert exc.message


@pytest.fixture(scope="module")
def small_nifti(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "small.nii"
    data = np.random.default_rng(0).integers(0, 5, (12, 10, 8)).astype(np.int16)
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), path)
    return path.read_bytes()


@pytest.mark.parametrize("seed", range(CASES))
def test_damaged_nifti(tmp_path, small_nifti, seed):
    path = tmp_path / "x.nii"
    path.write_bytes(_mutate(small_nifti[:352 + 200], seed) + small_nifti[352 + 200:])
    _expect_result_or_coded_error(load_volume, path)
    _expect_result_or_coded_error(load_label_map, path)


@pytest.mark.parametrize("seed", range(CASES))
def test_damaged_dicom(tmp_path, shared_data, seed):
    raw = (shared_data / "ct" / "pydicom_CT_small.dcm").read_bytes()
    path = tmp_path / "x.dcm"
    path.write_bytes(_mutate(raw[:2000], seed) + raw[2000:])  # damage the header part
    _expect_result_or_coded_error(load_image, path)
    _expect_result_or_coded_error(load_volume, path)


@pytest.mark.parametrize("seed", range(CASES))
def test_damaged_zip(tmp_path, shared_data, seed):
    source = tmp_path / "ok.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(shared_data / "ct" / "pydicom_CT_small.dcm", "a/1.dcm")
        zf.write(shared_data / "ct" / "pydicom_MR_small.dcm", "a/2.dcm")
    path = tmp_path / "x.zip"
    path.write_bytes(_mutate(source.read_bytes(), seed))
    work = tmp_path / "work"
    work.mkdir()
    _expect_result_or_coded_error(lambda p: load_volume(p, work_dir=work), path)
    assert list(work.iterdir()) == []
