"""Damaged uploads: each ends in a typed, coded error or in exactly what the file says.

A damaged file that still loads must load as what its (damaged) header and bytes describe,
decoded here independently with numpy from the raw header fields: a loader that returns
garbage (wrong shape or order, unscaled values, an affine the header does not hold, a voxel
size no scan has) fails.
"""

from __future__ import annotations

import io
import math
import zipfile

import nibabel as nib
import numpy as np
import pydicom
import pytest

from oculus.errors import OculusError
from oculus.io import load_image, load_label_map, load_volume

CASES = 25
NIFTI_HEADER_BYTES = 352  # 348-byte header + 4-byte extension flag of a single-file .nii
DAMAGED_PREFIX = 2000  # bytes of the DICOM file that are damaged (its header part)
#: No scan has voxels under 0.1 µm or over 1 m: such a size is a damaged header.
PLAUSIBLE_VOXEL_MM = (1e-4, 1e3)


def _mutate(raw: bytes, seed: int) -> bytes:
    """Overwrite a few random bytes, and sometimes cut the tail: typical transfer damage."""
    rng = np.random.default_rng(seed)
    data = bytearray(raw)
    for offset in rng.integers(0, len(data), size=int(rng.integers(1, 12))):
        data[offset] = int(rng.integers(0, 256))
    if rng.random() < 0.3:
        data = data[: int(rng.integers(1, len(data)))]
    return bytes(data)


def _load_or_coded_error(loader, path):
    """The loader's result, or None after checking the error is typed and coded."""
    try:
        return loader(path)
    except OculusError as exc:
        assert exc.code and exc.code == exc.code.lower() and " " not in exc.code
        assert exc.message
        return None


def _assert_sane_geometry(data: np.ndarray, affine: np.ndarray) -> None:
    assert data.ndim == 3 and min(data.shape) >= 2
    assert affine.shape == (4, 4) and np.all(np.isfinite(affine))
    assert np.array_equal(affine[3], [0, 0, 0, 1])
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    low, high = PLAUSIBLE_VOXEL_MM
    assert np.all((spacing >= low) & (spacing <= high)), f"voxel size {spacing} mm"
    # not singular: the axes span a real volume, not a plane
    assert abs(np.linalg.det(affine[:3, :3])) > 1e-6 * float(np.prod(spacing))


def _stored_nifti(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(values, affine) of the first 3D volume as the file's own header fields describe them."""
    header = nib.Nifti1Header.from_fileobj(io.BytesIO(raw), check=False)
    shape = tuple(int(n) for n in header["dim"][1:4])
    stored = np.frombuffer(
        raw, header.get_data_dtype(), count=math.prod(shape), offset=int(header["vox_offset"])
    ).reshape(shape, order="F")  # NIfTI stores the first index fastest
    slope, inter = float(header["scl_slope"]), float(header["scl_inter"])
    values = stored
    if math.isfinite(slope) and slope != 0:  # NIfTI: a slope of 0 means "not scaled"
        values = stored * slope + (inter if math.isfinite(inter) else 0.0)
    if header["sform_code"] > 0:  # NIfTI: the sform, when set, is the voxel -> world map
        affine = np.vstack([header["srow_x"], header["srow_y"], header["srow_z"], [0, 0, 0, 1]])
    else:
        affine = header.get_best_affine()
    return values, affine.astype(np.float64)


def _assert_loads_as_stored(raw: bytes, path) -> None:
    volume = _load_or_coded_error(load_volume, path)
    labels = _load_or_coded_error(load_label_map, path)
    if volume is None and labels is None:
        return
    values, affine = _stored_nifti(raw)
    if volume is not None:
        _assert_sane_geometry(volume.data, volume.affine)
        assert volume.shape == values.shape
        assert np.all(np.isfinite(volume.data))
        np.testing.assert_allclose(volume.data, values, rtol=1e-6)
        np.testing.assert_allclose(volume.affine, affine, rtol=1e-6)
    if labels is not None:
        label_data, label_affine = labels
        _assert_sane_geometry(label_data, label_affine)
        assert np.issubdtype(label_data.dtype, np.unsignedinteger) and label_data.max() > 0
        assert np.array_equal(label_data, values)
        np.testing.assert_allclose(label_affine, affine, rtol=1e-6)


@pytest.fixture(scope="module")
def small_nifti(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "small.nii"
    data = np.random.default_rng(0).integers(0, 5, (12, 10, 8)).astype(np.int16)
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), path)
    return path.read_bytes()


def test_undamaged_nifti_loads_as_stored(tmp_path, small_nifti):
    """The control: the independent decoding agrees with the loader on the intact file."""
    path = tmp_path / "x.nii"
    path.write_bytes(small_nifti)
    volume = load_volume(path)
    assert volume.shape == (12, 10, 8)
    np.testing.assert_array_equal(volume.affine, np.diag([1.0, 1.0, 2.0, 1.0]))
    _assert_loads_as_stored(small_nifti, path)


@pytest.mark.parametrize("seed", range(CASES))
def test_damaged_nifti(tmp_path, small_nifti, seed):
    cut = NIFTI_HEADER_BYTES + 200  # the header and the first voxels
    raw = _mutate(small_nifti[:cut], seed) + small_nifti[cut:]
    path = tmp_path / "x.nii"
    path.write_bytes(raw)
    _assert_loads_as_stored(raw, path)


@pytest.fixture(scope="module")
def ct_slice(shared_data):
    path = shared_data / "ct" / "pydicom_CT_small.dcm"
    raw = path.read_bytes()
    dataset = pydicom.dcmread(path)
    assert raw.find(b"\xe0\x7f\x10\x00") > DAMAGED_PREFIX  # (7FE0,0010) pixel data stays intact
    return raw, dataset


_DISPLAY_ATTRIBUTES = ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth",
                       "PhotometricInterpretation", "Rows", "Columns")


def _display_attributes(raw: bytes):
    try:
        dataset = pydicom.dcmread(io.BytesIO(raw), force=True, stop_before_pixels=True)
        return tuple(str(dataset.get(name)) for name in _DISPLAY_ATTRIBUTES)
    except Exception:  # noqa: BLE001 - an unreadable header simply has no comparable attributes
        return None


@pytest.mark.parametrize("seed", range(CASES))
def test_damaged_dicom(tmp_path, ct_slice, seed):
    source, dataset = ct_slice
    raw = _mutate(source[:DAMAGED_PREFIX], seed) + source[DAMAGED_PREFIX:]
    path = tmp_path / "x.dcm"
    path.write_bytes(raw)
    image = _load_or_coded_error(load_image, path)
    volume = _load_or_coded_error(load_volume, path)
    assert volume is None  # one slice is never a 3D volume
    if image is None:
        return
    stored = dataset.pixel_array  # the damage stops before the pixel data
    assert image.dtype == np.uint8 and image.shape == stored.shape
    # Rescale and window are monotone: brighter stored pixels never come out darker
    # (or, for MONOCHROME1, never lighter).
    along = image.reshape(-1)[np.argsort(stored.reshape(-1), kind="stable")].astype(int)
    steps = np.diff(along)
    assert np.all(steps >= 0) or np.all(steps <= 0)
    path.write_bytes(source)
    if _display_attributes(raw) == _display_attributes(source):
        assert np.array_equal(image, load_image(path))


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
    volume = _load_or_coded_error(lambda p: load_volume(p, work_dir=work), path)
    if volume is not None:
        _assert_sane_geometry(volume.data, volume.affine)
        assert np.all(np.isfinite(volume.data))
    assert list(work.iterdir()) == []
