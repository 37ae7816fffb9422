"""NIfTI loading: real CTs and crafted bad headers/voxels (oculus.io.load_volume)."""

from __future__ import annotations

import gzip
import shutil
import struct

import nibabel as nib
import numpy as np
import pytest

from oculus.errors import CorruptFileError, InputError, InvalidGeometryError, InvalidVoxelsError
from oculus.io import load_volume

PIXDIM_OFFSET = 76  # float32[8] in the NIfTI-1 header
SROW_OFFSETS = (280, 296, 312)


def _small_volume(tmp_path, name="vol.nii", data=None, affine=None):
    data = np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4) if data is None else data
    affine = np.diag([2.0, 3.0, 4.0, 1.0]) if affine is None else affine
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


def _patch_float(path, offset, value):
    raw = bytearray(path.read_bytes())
    raw[offset:offset + 4] = struct.pack("<f", value)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("name", ["example_ct.nii.gz", "example_mr_sm.nii.gz", "ct_cropped.nii.gz"])
def test_real_nifti_loads_with_nibabel_grid(shared_data, name):
    path = shared_data / "ct" / name
    ref = nib.load(path)
    volume = load_volume(path)
    assert volume.shape == ref.shape[:3]
    np.testing.assert_allclose(volume.affine, ref.affine, atol=1e-6)
    np.testing.assert_array_equal(volume.data, np.asanyarray(ref.dataobj))
    assert volume.source_format == "nifti"
    if name.startswith("example_mr"):
        assert volume.modality is None and volume.warnings == []
    else:  # CT in Hounsfield units: inferred, and said so
        assert volume.modality == "CT"
        assert len(volume.warnings) == 1
        assert any("taken to be CT" in w for w in volume.warnings)


@pytest.mark.parametrize("name, modality", [("example_ct_sm.nii.gz", "CT"), ("example_mr_sm.nii.gz", None)])
def test_modality_inferred_from_intensities(shared_data, name, modality):
    volume = load_volume(shared_data / "ct" / name)
    assert volume.modality == modality
    assert any("intensities" in w for w in volume.warnings) == (modality == "CT")


def test_modality_inference_rules():
    from oculus.io.nifti import infer_modality

    body = np.full((20, 20, 20), 40, np.int16)
    body[:, :, :5] = -1000  # air
    assert infer_modality(body) == "CT"
    assert infer_modality(body.astype(np.float32)) == "CT"  # integer-valued floats
    assert infer_modality(body.astype(np.float32) + 0.25) is None  # not integer-valued
    assert infer_modality(np.abs(body)) is None  # MR-like: no negative air
    padded = np.full((20, 20, 20), 40, np.int16)
    padded[0] = -3024  # outside the field of view only, no air: not enough evidence
    assert infer_modality(padded) is None
    assert infer_modality(np.full((4, 4, 4), -1000, np.int16)) is None  # nothing but air


def test_content_not_extension_decides(shared_data, tmp_path):
    renamed = tmp_path / "upload.bin"
    shutil.copy(shared_data / "ct" / "example_ct_sm.nii.gz", renamed)
    volume = load_volume(renamed)
    assert volume.shape == (122, 101, 30)


def test_4d_uses_first_volume_with_warning(tmp_path):
    first = np.random.default_rng(0).integers(-1000, 1000, (6, 5, 4)).astype(np.int16)
    stacked = np.stack([first, first + 7, first - 3], axis=-1)
    path = _small_volume(tmp_path, "four_d.nii.gz", stacked)
    volume = load_volume(path)
    np.testing.assert_array_equal(volume.data, first)
    assert "3 volumes" in volume.warnings[0]  # (then the CT inference: its values span -1000)
    assert sum("volumes" in w for w in volume.warnings) == 1


def test_2d_nifti_refused(tmp_path):
    path = tmp_path / "slice.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((16, 16), np.int16), np.eye(4)), path)
    with pytest.raises(InputError) as err:
        load_volume(path)
    assert err.value.code == "not_3d"


def test_single_slice_3d_nifti_is_2d(tmp_path):
    path = _small_volume(tmp_path, "one.nii.gz", np.zeros((16, 16, 1), np.int16))
    with pytest.raises(InputError) as err:
        load_volume(path)
    assert err.value.code == "not_3d"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_gzip_refused(shared_data, tmp_path, cut):
    raw = (shared_data / "ct" / "example_ct_sm.nii.gz").read_bytes()
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(raw[: int(len(raw) * cut)])
    with pytest.raises(CorruptFileError) as err:
        load_volume(path)
    assert err.value.code == "truncated_file"


def test_truncated_header_refused(shared_data, tmp_path):
    raw = (shared_data / "ct" / "example_ct_sm.nii.gz").read_bytes()
    path = tmp_path / "stub.nii.gz"
    path.write_bytes(raw[:40])
    with pytest.raises(CorruptFileError) as err:
        load_volume(path)
    assert err.value.code == "truncated_file"


def test_truncated_uncompressed_refused(tmp_path):
    path = _small_volume(tmp_path, "cut.nii")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 50])
    with pytest.raises(CorruptFileError) as err:
        load_volume(path)
    assert err.value.code == "truncated_file"


@pytest.mark.parametrize("value", [0.0, -1.5, float("nan"), float("inf")])
def test_bad_pixdim_refused(tmp_path, value):
    path = _small_volume(tmp_path)
    _patch_float(path, PIXDIM_OFFSET + 4 * 2, value)  # pixdim[2], the j spacing
    with pytest.raises(InvalidGeometryError) as err:
        load_volume(path)
    assert err.value.code == "invalid_spacing"


def test_zero_sform_column_refused(tmp_path):
    path = _small_volume(tmp_path)
    _patch_float(path, SROW_OFFSETS[1] + 4, 0.0)  # srow_y[1] -> the j axis has no length
    with pytest.raises(InvalidGeometryError) as err:
        load_volume(path)
    assert err.value.code == "invalid_spacing"


def test_nan_voxels_counted(tmp_path):
    data = np.zeros((6, 5, 4), np.float32)
    data[0, 0, 0] = np.nan
    data[1, 2, 3] = np.inf
    data[2, 2, 2] = -np.inf
    path = _small_volume(tmp_path, "nan.nii.gz", data)
    with pytest.raises(InvalidVoxelsError) as err:
        load_volume(path)
    assert err.value.code == "invalid_voxels"
    assert "3 voxels" in err.value.message


def test_scaled_data_come_back_in_real_units(tmp_path):
    img = nib.Nifti1Image(np.array([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], np.int16), np.eye(4))
    img.header.set_slope_inter(2.0, -1024.0)
    path = tmp_path / "scaled.nii"
    nib.save(img, path)
    volume = load_volume(path)
    assert volume.data.dtype == np.float32
    assert float(volume.data[0, 0, 0]) == pytest.approx(2 * 1 - 1024)


def test_size_limit_applies_before_reading(shared_data):
    with pytest.raises(InputError) as err:
        load_volume(shared_data / "ct" / "example_ct.nii.gz", max_uncompressed_bytes=1000)
    assert err.value.code == "scan_too_large"


def test_gzip_of_something_else_is_not_a_scan(tmp_path):
    path = tmp_path / "notes.nii.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"just some text, not an image\n" * 50)
    with pytest.raises(InputError) as err:
        load_volume(path)
    assert err.value.code == "not_a_scan"


def _fresh_interpreter(script: str, *args: str) -> dict:
    import json
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_nibabel_is_imported_without_pydicom_and_pydicom_still_imports_after(tmp_path):
    """oculus.nib keeps nibabel from importing pydicom (~0.2 s of a cold ``oculus mesh``) yet a
    NIfTI file with a DICOM header extension still loads, and the DICOM loader's pydicom works."""
    path = tmp_path / "with_dicom_extension.nii.gz"
    image = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    image.header.extensions.append(nib.nifti1.Nifti1Extension(2, b"\xff\xfe not DICOM"))  # code 2: DICOM
    nib.save(image, path)
    state = _fresh_interpreter(
        "import json, sys\n"
        "from pathlib import Path\n"
        "from oculus.io import load_volume\n"
        "volume = load_volume(Path(sys.argv[1]))\n"
        "before = 'pydicom' in sys.modules\n"
        "import pydicom\n"
        "print(json.dumps({'pydicom_before': before, 'shape': list(volume.shape), 'sum': int(volume.data.sum()),\n"
        "                  'dataset': pydicom.Dataset.__name__}))\n",
        str(path),
    )
    assert state == {"pydicom_before": False, "shape": [2, 3, 4], "sum": sum(range(24)), "dataset": "Dataset"}


def test_nibabel_imported_after_pydicom_keeps_its_dicom_extensions():
    state = _fresh_interpreter(
        "import json, sys\n"
        "import pydicom\n"
        "from oculus.nib import nib\n"
        "print(json.dumps({'have_dicom': bool(nib.nifti1.have_dicom)}))\n"
    )
    assert state == {"have_dicom": True}


def test_a_malformed_dicom_extension_is_kept_raw_even_when_pydicom_came_first(tmp_path):
    """In this process pydicom is imported before oculus.nib (pytest imports it): the file must
    load exactly as on the engine's usual path, where nibabel never saw pydicom."""
    import pydicom  # noqa: F401

    from oculus.nib import nib as engine_nib

    path = tmp_path / "bad_dicom_extension.nii.gz"
    image = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    image.header.extensions.append(nib.nifti1.Nifti1Extension(2, b"\xff\xfe not DICOM"))
    nib.save(image, path)
    assert engine_nib.nifti1.extension_codes.handler[2] is engine_nib.nifti1.Nifti1Extension
    assert int(load_volume(path).data.sum()) == sum(range(24))
