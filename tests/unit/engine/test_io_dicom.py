"""DICOM loading: the real JPEG 2000 series (folder, ZIP, multi-frame) and crafted bad input."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, ExplicitVRLittleEndian, generate_uid

from oculus.errors import CorruptFileError, InputError, InvalidGeometryError
from oculus.io import load_volume
from oculus.io.dicom import decode_pixels

SERIES_SHAPE = (512, 512, 20)


@pytest.fixture(scope="module")
def series_dir(shared_data) -> Path:
    return shared_data / "ct" / "example_ct_dicom"


@pytest.fixture(scope="module")
def series_volume(series_dir):
    return load_volume(series_dir)


@pytest.fixture(scope="module")
def slices(series_dir):
    """(dataset, HU pixels) of every slice, ordered from inferior to superior."""
    out = []
    for path in sorted(series_dir.iterdir()):
        ds = pydicom.dcmread(path)
        hu = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
        out.append((ds, hu))
    return sorted(out, key=lambda item: float(item[0].ImagePositionPatient[2]))


def _zip_dir(directory: Path, zip_path: Path, prefix: str = "series/") -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            zf.write(path, prefix + str(path.relative_to(directory)))
    return zip_path


# --- fidelity with TotalSegmentator's own conversion ----------------------------------------------


def test_series_grid_matches_totalsegmentator_output(series_volume, shared_data):
    reference = nib.load(shared_data / "ct" / "example_seg_dicom.nii.gz")
    assert series_volume.shape == reference.shape == SERIES_SHAPE
    np.testing.assert_allclose(series_volume.affine, reference.affine, atol=1e-3)


def test_series_voxels_match_dicom2nifti(series_dir, series_volume, tmp_path):
    """dicom2nifti is what TotalSegmentator converts with: same voxels, same order, same HU."""
    import dicom2nifti

    out = tmp_path / "d2n.nii"
    dicom2nifti.dicom_series_to_nifti(str(series_dir), str(out), reorient_nifti=True)
    reference = nib.load(out)
    np.testing.assert_array_equal(series_volume.data, np.asanyarray(reference.dataobj))
    np.testing.assert_allclose(series_volume.affine, reference.affine, atol=1e-4)


def test_series_in_hounsfield_units_and_las_order(series_volume, slices):
    assert series_volume.modality == "CT"
    assert series_volume.source_format == "dicom-series"
    assert series_volume.data.dtype == np.int16
    np.testing.assert_allclose(series_volume.spacing, (0.9765625, 0.9765625, 2.0))
    # k runs inferior -> superior; i is the DICOM column (towards patient left), j is the DICOM
    # row reversed (rows run posterior, the grid runs anterior).
    for k in (0, 7, 19):
        np.testing.assert_array_equal(series_volume.data[:, :, k], slices[k][1].T[:, ::-1])
    assert series_volume.data.min() == -1024  # air/outside the scan after the -1024 intercept


def test_world_position_of_first_slice(series_volume, slices):
    ds = slices[0][0]
    lps = np.array([float(v) for v in ds.ImagePositionPatient])
    # Voxel (column 0, row 0, slice 0) sits at the DICOM position, with x and y negated (RAS).
    voxel = np.array([0, SERIES_SHAPE[1] - 1, 0, 1])
    np.testing.assert_allclose((series_volume.affine @ voxel)[:3], lps * [-1, -1, 1], atol=1e-4)


def test_decoder_is_the_pinned_pillow_plugin(series_dir):
    ds = pydicom.dcmread(next(iter(sorted(series_dir.iterdir()))))
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.JPEG2000Lossless
    pixels = decode_pixels(ds, "slice")
    assert ds._pixel_array_opts["decoding_plugin"] == "pillow"
    reference = pydicom.dcmread(next(iter(sorted(series_dir.iterdir())))).pixel_array
    np.testing.assert_array_equal(pixels, reference)


# --- the same series as a ZIP, mixed, or multi-frame -------------------------------------------


def test_zip_of_series_gives_same_volume(series_dir, series_volume, tmp_path):
    archive = _zip_dir(series_dir, tmp_path / "upload.zip")
    work = tmp_path / "work"
    work.mkdir()
    volume = load_volume(archive, work_dir=work)
    np.testing.assert_array_equal(volume.data, series_volume.data)
    np.testing.assert_allclose(volume.affine, series_volume.affine)
    assert list(work.iterdir()) == []  # the extraction folder is gone again


def test_mixed_series_zip_takes_largest_and_says_so(series_dir, series_volume, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(series_dir, folder / "main")
    (folder / "other").mkdir()
    new_series = generate_uid()
    for index, path in enumerate(sorted(series_dir.iterdir())[:6]):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = new_series
        ds.SOPInstanceUID = generate_uid()
        ds.save_as(folder / "other" / f"copy{index}.dcm")
    archive = _zip_dir(folder, tmp_path / "mixed.zip")
    volume = load_volume(archive, work_dir=tmp_path)
    assert volume.shape == SERIES_SHAPE
    np.testing.assert_array_equal(volume.data, series_volume.data)
    assert any("2 different image series" in w and "20 slices" in w for w in volume.warnings)


def _multiframe_base(slices, sop_class) -> Dataset:
    first = slices[0][0]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.Rows, ds.Columns = first.Rows, first.Columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1
    ds.NumberOfFrames = len(slices)
    return ds


def test_classic_multiframe_matches_series_grid(slices, series_volume, tmp_path):
    first = slices[0][0]
    ds = _multiframe_base(slices, CTImageStorage)
    ds.ImagePositionPatient = first.ImagePositionPatient
    ds.ImageOrientationPatient = first.ImageOrientationPatient
    ds.PixelSpacing = first.PixelSpacing
    ds.SpacingBetweenSlices = "2.0"
    ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
    frames = np.stack([hu + 1024 for _, hu in slices]).astype(np.int16)  # stored values
    ds.PixelData = frames.tobytes()
    path = tmp_path / "classic.dcm"
    ds.save_as(path, enforce_file_format=True)

    volume = load_volume(path)
    assert volume.source_format == "dicom-multiframe"
    assert volume.shape == SERIES_SHAPE
    np.testing.assert_allclose(volume.affine, series_volume.affine, atol=1e-4)
    np.testing.assert_array_equal(volume.data, series_volume.data)


def test_enhanced_multiframe_sorts_frames_by_position(slices, series_volume, tmp_path):
    first = slices[0][0]
    ds = _multiframe_base(slices, EnhancedCTImageStorage)
    order = np.random.default_rng(3).permutation(len(slices))  # frames stored out of order
    shared = Dataset()
    orientation, measures, transform = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = first.ImageOrientationPatient
    measures.PixelSpacing = first.PixelSpacing
    measures.SliceThickness = "2.0"
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = "1", "-1024", "HU"
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for index in order:
        item, plane = Dataset(), Dataset()
        plane.ImagePositionPatient = slices[index][0].ImagePositionPatient
        item.PlanePositionSequence = Sequence([plane])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.PixelData = np.stack([slices[i][1] + 1024 for i in order]).astype(np.int16).tobytes()
    path = tmp_path / "enhanced.dcm"
    ds.save_as(path, enforce_file_format=True)

    volume = load_volume(path)
    assert volume.shape == SERIES_SHAPE
    np.testing.assert_allclose(volume.affine, series_volume.affine, atol=1e-4)
    np.testing.assert_array_equal(volume.data, series_volume.data)


def test_classic_multiframe_with_zero_slice_spacing_refused(slices, tmp_path):
    first = slices[0][0]
    ds = _multiframe_base(slices[:3], CTImageStorage)
    ds.ImagePositionPatient = first.ImagePositionPatient
    ds.ImageOrientationPatient = first.ImageOrientationPatient
    ds.PixelSpacing = first.PixelSpacing
    ds.SpacingBetweenSlices = "0"
    ds.PixelData = np.zeros((3, first.Rows, first.Columns), np.int16).tobytes()
    path = tmp_path / "flat.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(InvalidGeometryError) as err:
        load_volume(path)
    assert err.value.code == "invalid_spacing"


# --- bad DICOM input -------------------------------------------------------------------------


def test_dicom_without_pixel_data(series_dir, tmp_path):
    ds = pydicom.dcmread(sorted(series_dir.iterdir())[0])
    del ds.PixelData
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    folder = tmp_path / "nopixels"
    folder.mkdir()
    ds.save_as(folder / "slice.dcm", enforce_file_format=True)
    for target in (folder, folder / "slice.dcm"):
        with pytest.raises(InputError) as err:
            load_volume(target)
        assert err.value.code == "dicom_no_pixel_data"


def test_single_slice_dicom_is_not_a_volume(shared_data):
    with pytest.raises(InputError) as err:
        load_volume(shared_data / "ct" / "pydicom_CT_small.dcm")
    assert err.value.code == "not_3d"


def test_truncated_slice_in_series_is_corrupt(series_dir, tmp_path):
    folder = tmp_path / "series"
    shutil.copytree(series_dir, folder)
    victim = sorted(folder.iterdir())[7]
    raw = victim.read_bytes()
    victim.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptFileError) as err:
        load_volume(folder)
    assert err.value.code == "corrupt_dicom"
    assert victim.name in err.value.message


def test_garbage_after_dicm_is_corrupt(tmp_path):
    path = tmp_path / "garbage.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)) * 8)
    with pytest.raises(CorruptFileError) as err:
        load_volume(path)
    assert err.value.code == "corrupt_dicom"


def test_corrupt_pixel_stream_is_wrapped(series_dir, tmp_path):
    ds = pydicom.dcmread(sorted(series_dir.iterdir())[0])
    frames = pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)
    broken = b"\xff\x4f\xff\x51" + next(iter(frames))[4:200] + b"\x00" * 64
    ds.PixelData = pydicom.encaps.encapsulate([broken])
    with pytest.raises(CorruptFileError) as err:
        decode_pixels(ds, "broken.dcm")
    assert err.value.code == "corrupt_dicom"


@pytest.mark.parametrize("kind", ["empty_folder", "text_folder", "empty_zip"])
def test_no_dicom_found(tmp_path, kind):
    target = tmp_path / "upload"
    if kind == "empty_zip":
        target = tmp_path / "upload.zip"
        zipfile.ZipFile(target, "w").close()
    else:
        target.mkdir()
        if kind == "text_folder":
            (target / "readme.txt").write_text("no images here\n")
    with pytest.raises(InputError) as err:
        load_volume(target)
    assert err.value.code == "no_dicom_found"


def test_missing_slice_is_interpolated_and_said(series_dir, series_volume, tmp_path):
    """Issue 10: an unevenly spaced series still gives a result, on a regular grid, with a warning."""
    folder = tmp_path / "gap"
    shutil.copytree(series_dir, folder)
    sorted(folder.iterdir())[10].unlink()
    volume = load_volume(folder)
    assert volume.shape == SERIES_SHAPE
    np.testing.assert_allclose(volume.affine, series_volume.affine, atol=1e-4)
    assert any("not evenly spaced" in w and "interpolated" in w for w in volume.warnings)
    assert volume.dicom_source.problems  # no SEG/RTSTRUCT on an interpolated grid
    missing = [k for k in range(SERIES_SHAPE[2])
               if not np.array_equal(volume.data[:, :, k], series_volume.data[:, :, k])]
    assert len(missing) == 1
    k = missing[0]
    mean = (series_volume.data[:, :, k - 1].astype(float) + series_volume.data[:, :, k + 1]) / 2
    np.testing.assert_allclose(volume.data[:, :, k], np.rint(mean), atol=1)


def test_a_gap_of_many_slices_is_two_series_and_refused(series_dir, tmp_path):
    folder = tmp_path / "gap"
    shutil.copytree(series_dir, folder)
    for path in sorted(folder.iterdir())[5:12]:
        path.unlink()
    with pytest.raises(InputError) as err:
        load_volume(folder)
    assert err.value.code == "inconsistent_slice_spacing"


def test_zero_pixel_spacing_refused(series_dir, tmp_path):
    folder = tmp_path / "zero"
    folder.mkdir()
    for path in sorted(series_dir.iterdir())[:3]:
        ds = pydicom.dcmread(path)
        ds.PixelSpacing = [0, 0.9765625]
        ds.save_as(folder / path.name)
    with pytest.raises(InvalidGeometryError) as err:
        load_volume(folder)
    assert err.value.code == "invalid_spacing"
