"""Label maps for meshing (oculus.io.load_label_map)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from oculus.errors import InputError, InvalidVoxelsError
from oculus.io import load_label_map


def _save(tmp_path, data, name="labels.nii.gz"):
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, np.diag([1.5, 1.5, 3.0, 1.0])), path)
    return path


def test_totalsegmentator_output_loads(shared_data):
    path = shared_data / "ct" / "example_seg.nii.gz"
    reference = nib.load(path)
    labels, affine = load_label_map(path)
    expected = np.asanyarray(reference.dataobj)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_allclose(affine, reference.affine)
    assert labels.dtype == np.uint8
    assert len(np.unique(labels)) - 1 == 41  # 41 structures, as documented for this file


def test_integral_floats_are_cast(tmp_path):
    data = np.zeros((5, 5, 5), np.float32)
    data[1:3, 1:3, 1:3] = 7.0
    data[4, 4, 4] = 300.0
    labels, _ = load_label_map(_save(tmp_path, data))
    assert labels.dtype == np.uint16
    assert labels[1, 1, 1] == 7 and labels[4, 4, 4] == 300


def test_fractional_values_refused(tmp_path):
    data = np.zeros((5, 5, 5), np.float32)
    data[2, 2, 2] = 0.5
    with pytest.raises(InputError) as err:
        load_label_map(_save(tmp_path, data))
    assert err.value.code == "non_integer_labels"


def test_negative_labels_refused(tmp_path):
    data = np.zeros((5, 5, 5), np.int16)
    data[1, 1, 1], data[2, 2, 2] = 3, -2
    with pytest.raises(InputError) as err:
        load_label_map(_save(tmp_path, data))
    assert err.value.code == "negative_labels"


def test_empty_label_map_refused(tmp_path):
    with pytest.raises(InputError) as err:
        load_label_map(_save(tmp_path, np.zeros((5, 5, 5), np.uint8)))
    assert err.value.code == "empty_label_map"


def test_nan_labels_refused(tmp_path):
    data = np.ones((5, 5, 5), np.float32)
    data[0, 0, 0] = np.nan
    with pytest.raises(InvalidVoxelsError):
        load_label_map(_save(tmp_path, data))


def test_dicom_is_not_a_label_map(shared_data):
    with pytest.raises(InputError) as err:
        load_label_map(shared_data / "ct" / "example_ct_dicom")
    assert err.value.code == "not_a_label_map"


def test_4d_label_map_refused(tmp_path):
    data = np.ones((5, 5, 5, 2), np.uint8)
    with pytest.raises(InputError) as err:
        load_label_map(_save(tmp_path, data))
    assert err.value.code == "not_3d"
