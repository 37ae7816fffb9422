"""Format sniffing by content (oculus.io.detect_format)."""

from __future__ import annotations

import gzip
import shutil
import zipfile

import nibabel as nib
import numpy as np
import pydicom
import pytest

from oculus.errors import CorruptFileError, UnsupportedFormatError
from oculus.io import detect_format


def _brain_jpeg(shared_data):
    return sorted((shared_data / "brain-mri" / "Training" / "glioma").iterdir())[0]


def test_real_files(shared_data):
    ct = shared_data / "ct"
    assert detect_format(ct / "example_ct.nii.gz") == "nifti"
    assert detect_format(ct / "example_ct_dicom") == "directory"
    assert detect_format(next(iter(sorted((ct / "example_ct_dicom").iterdir())))) == "dicom"
    assert detect_format(ct / "pydicom_MR_small.dcm") == "dicom"
    assert detect_format(_brain_jpeg(shared_data)) == "jpeg"


def test_extension_is_ignored(shared_data, tmp_path):
    # Every file gets a misleading name; the content decides.
    cases = {
        "nifti": shared_data / "ct" / "example_ct_sm.nii.gz",
        "dicom": shared_data / "ct" / "pydicom_CT_small.dcm",
        "jpeg": _brain_jpeg(shared_data),
    }
    for expected, source in cases.items():
        target = tmp_path / f"{expected}.png.txt"
        shutil.copy(source, target)
        assert detect_format(target) == expected


def test_uncompressed_nifti1_and_nifti2(tmp_path):
    data = np.zeros((4, 4, 4), np.int16)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "a.nii")
    nib.save(nib.Nifti2Image(data, np.eye(4)), tmp_path / "b.nii.gz")
    assert detect_format(tmp_path / "a.nii") == "nifti"
    assert detect_format(tmp_path / "b.nii.gz") == "nifti"


def test_png_and_zip(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x.png")
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as zf:
        zf.writestr("a.txt", "a")
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    assert detect_format(tmp_path / "x.png") == "png"
    assert detect_format(tmp_path / "x.zip") == "zip"
    assert detect_format(tmp_path / "empty.zip") == "zip"


def test_dicom_without_preamble(shared_data, tmp_path):
    ds = pydicom.dcmread(shared_data / "ct" / "pydicom_CT_small.dcm")
    ds.preamble = None
    path = tmp_path / "raw"
    ds.save_as(path, enforce_file_format=False)
    assert path.read_bytes()[128:132] != b"DICM"
    assert detect_format(path) == "dicom"


@pytest.mark.parametrize("content", [b"", b"hello world\n" * 100, b"%PDF-1.7\n" + bytes(2000), bytes(range(256)) * 10])
def test_not_a_scan(tmp_path, content):
    path = tmp_path / "scan.nii.gz"
    path.write_bytes(content)
    with pytest.raises(UnsupportedFormatError) as err:
        detect_format(path)
    assert err.value.code == "not_a_scan"
    assert "NIfTI" in err.value.message and "DICOM" in err.value.message  # says what is accepted


def test_gzip_that_is_not_nifti(tmp_path):
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"not an image" * 100)
    with pytest.raises(UnsupportedFormatError) as err:
        detect_format(path)
    assert err.value.code == "not_a_scan"


def test_gzip_cut_inside_header(shared_data, tmp_path):
    path = tmp_path / "cut.nii.gz"
    path.write_bytes((shared_data / "ct" / "example_ct_sm.nii.gz").read_bytes()[:30])
    with pytest.raises(CorruptFileError) as err:
        detect_format(path)
    assert err.value.code == "truncated_file"


def test_missing_path(tmp_path):
    with pytest.raises(UnsupportedFormatError) as err:
        detect_format(tmp_path / "nope")
    assert err.value.code == "file_not_found"
