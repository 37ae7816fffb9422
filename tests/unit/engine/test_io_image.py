"""2D images for classification (oculus.io.load_image)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image

from oculus.errors import CorruptFileError, InputError
from oculus.io import load_image


def _brain_jpeg(shared_data):
    return sorted((shared_data / "brain-mri" / "Training" / "meningioma").iterdir())[0]


def test_brain_mri_jpeg(shared_data):
    path = _brain_jpeg(shared_data)
    pixels = load_image(path)
    with Image.open(path) as img:
        expected = np.asarray(img.convert("RGB") if img.mode != "L" else img)
    assert pixels.dtype == np.uint8
    assert pixels.shape[:2] == (224, 224)
    np.testing.assert_array_equal(pixels, expected)


@pytest.mark.parametrize("mode,shape", [("L", (20, 30)), ("RGB", (20, 30, 3)), ("RGBA", (20, 30, 3)), ("P", (20, 30, 3))])
def test_png_modes(tmp_path, mode, shape):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    img = Image.fromarray(rgb).convert(mode)
    img.save(tmp_path / "x.png")
    pixels = load_image(tmp_path / "x.png")
    assert pixels.shape == shape and pixels.dtype == np.uint8


def test_16_bit_png_is_stretched_to_8_bit(tmp_path):
    data = np.linspace(1000, 5000, 20 * 30).reshape(20, 30).astype(np.uint16)
    Image.fromarray(data).save(tmp_path / "x16.png")
    pixels = load_image(tmp_path / "x16.png")
    assert pixels.dtype == np.uint8 and pixels.min() == 0 and pixels.max() == 255


def test_ct_dicom_without_window_uses_full_range(shared_data):
    path = shared_data / "ct" / "pydicom_CT_small.dcm"
    ds = pydicom.dcmread(path)
    pixels = load_image(path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert pixels.shape == (ds.Rows, ds.Columns) and pixels.dtype == np.uint8
    assert pixels.min() == 0 and pixels.max() == 255
    # The brightest HU voxel maps to 255 and the darkest to 0.
    assert pixels.flat[np.argmax(hu)] == 255 and pixels.flat[np.argmin(hu)] == 0


def test_mr_dicom_uses_its_own_window(shared_data):
    path = shared_data / "ct" / "pydicom_MR_small.dcm"
    ds = pydicom.dcmread(path)
    pixels = load_image(path)
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    raw = ds.pixel_array.astype(float)
    expected = np.clip(np.rint((raw - (center - width / 2)) / width * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)


def test_jpeg2000_ct_slice_from_the_series(shared_data):
    path = sorted((shared_data / "ct" / "example_ct_dicom").iterdir())[10]
    ds = pydicom.dcmread(path)
    pixels = load_image(path)
    assert pixels.shape == (512, 512) and pixels.dtype == np.uint8
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    # Whatever the window, brighter HU never maps to a darker grey value.
    order = np.argsort(hu, axis=None)
    assert np.all(np.diff(pixels.flat[order].astype(int)) >= 0)
    assert pixels.max() > pixels.min()


def test_multiframe_dicom_refused(shared_data, tmp_path):
    ds = pydicom.dcmread(shared_data / "ct" / "pydicom_CT_small.dcm")
    frame = ds.pixel_array
    ds.NumberOfFrames = 3
    ds.PixelData = np.stack([frame] * 3).tobytes()
    ds.save_as(tmp_path / "multi.dcm")
    with pytest.raises(InputError) as err:
        load_image(tmp_path / "multi.dcm")
    assert err.value.code == "not_2d"


@pytest.mark.parametrize("name", ["example_ct_sm.nii.gz", "example_ct_dicom"])
def test_volumes_refused(shared_data, name):
    with pytest.raises(InputError) as err:
        load_image(shared_data / "ct" / name)
    assert err.value.code == "not_2d"


def test_truncated_jpeg(shared_data, tmp_path):
    raw = _brain_jpeg(shared_data).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(CorruptFileError) as err:
        load_image(tmp_path / "cut.jpg")
    assert err.value.code == "corrupt_image"


def test_huge_image_refused_before_decoding(tmp_path):
    Image.new("L", (4000, 3000)).save(tmp_path / "big.png")
    with pytest.raises(InputError) as err:
        load_image(tmp_path / "big.png", max_pixels=1_000_000)
    assert err.value.code == "image_too_large"
