"""seg.dcm and rtstruct.dcm on small synthetic CT series with a known label per source pixel
(series and read-back in dicom_checks.py: the read-back never relies on the writers' mapping)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from oculus.dicom_out import RTSTRUCT_NAME, SEG_NAME, write_dicom_outputs
from oculus.io import load_volume
from oculus.segment.base import Segmentation
from oculus.volume import Volume

_spec = importlib.util.spec_from_file_location("dicom_checks", Path(__file__).with_name("dicom_checks.py"))
checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checks)

AXIAL, CLASSES, COLS, ROWS, SLICES, LABEL_OF, ENGINE = (checks.AXIAL, checks.CLASSES, checks.COLS, checks.ROWS,
                                                      checks.SLICES, checks.LABEL_OF, checks.ENGINE)
segment, truth_labels = checks.segment, checks.truth_labels
write_series, write_enhanced = checks.write_series, checks.write_enhanced


def run(source: Path, out: Path):
    volume = load_volume(source)
    out.mkdir()
    return volume, write_dicom_outputs(volume, segment(volume), out)


# --- SEG: voxel-for-voxel round trip ------------------------------------------------------------

ORIENTATIONS = {
    "axial": AXIAL,
    # oblique, and flipped against the patient axes: rows run left->right, columns feet->head
    "oblique_flipped": ((-np.cos(0.4), -np.sin(0.4), 0.0), (0.0, 0.0, -1.0)),
}


@pytest.mark.parametrize("shuffle", [False, True], ids=["in_order", "files_out_of_order"])
@pytest.mark.parametrize("orientation", ORIENTATIONS.values(), ids=ORIENTATIONS.keys())
def test_seg_round_trip_is_voxel_exact(tmp_path, orientation, shuffle):
    datasets = write_series(tmp_path / "series", orientation=orientation, shuffle=shuffle,
                            step=-2.5 if shuffle else 2.5)
    _, written = run(tmp_path / "series", tmp_path / "out")
    assert written.names == [SEG_NAME, RTSTRUCT_NAME], written.warnings
    assert written.warnings == []
    back = checks.seg_labels_by_instance(tmp_path / "out" / SEG_NAME,
                                         [str(ds.SOPInstanceUID) for ds in datasets], LABEL_OF)
    np.testing.assert_array_equal(back, truth_labels())


def test_seg_round_trip_enhanced_multiframe_out_of_order(tmp_path):
    order = [5, 2, 7, 0, 1, 6, 3, 4]
    source = write_enhanced(tmp_path / "enhanced.dcm", frame_order=order)
    _, written = run(tmp_path / "enhanced.dcm", tmp_path / "out")
    assert written.names == [SEG_NAME, RTSTRUCT_NAME], written.warnings
    seg = pydicom.dcmread(tmp_path / "out" / SEG_NAME)
    import highdicom as hd

    numbers = hd.seg.Segmentation.from_dataset(seg).get_pixels_by_source_frame(
        str(source.SOPInstanceUID), source_frame_numbers=list(range(1, len(order) + 1)),
        combine_segments=True, dtype=np.uint16,
    )
    names = {s.SegmentNumber: s.SegmentLabel for s in seg.SegmentSequence}
    lookup = np.array([0] + [LABEL_OF[names[n]] for n in sorted(names)])
    np.testing.assert_array_equal(lookup[numbers], truth_labels()[order])


def test_seg_references_and_codes_the_source(tmp_path):
    datasets = write_series(tmp_path / "series", shuffle=True)
    run(tmp_path / "series", tmp_path / "out")
    seg = pydicom.dcmread(tmp_path / "out" / SEG_NAME)
    first = datasets[0]
    assert seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    for tag in ("PatientID", "StudyInstanceUID", "FrameOfReferenceUID"):
        assert seg.get(tag) == first.get(tag)
    (series_ref,) = seg.ReferencedSeriesSequence
    assert series_ref.SeriesInstanceUID == first.SeriesInstanceUID
    assert {i.ReferencedSOPInstanceUID for i in series_ref.ReferencedInstanceSequence} == \
        {str(ds.SOPInstanceUID) for ds in datasets}
    per_frame_sources = {
        frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        for frame in seg.PerFrameFunctionalGroupsSequence
    }
    assert per_frame_sources == {str(ds.SOPInstanceUID) for ds in datasets}
    by_label = {s.SegmentLabel: s for s in seg.SegmentSequence}
    assert set(by_label) == set(CLASSES.values())
    liver = by_label["liver"]
    assert liver.SegmentedPropertyTypeCodeSequence[0].CodeValue == "10200004"  # SNOMED liver
    assert liver.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "123037004"
    assert liver.SegmentAlgorithmName == "totalsegmentator"
    assert liver.SegmentAlgorithmType == "AUTOMATIC"
    assert liver.SegmentationAlgorithmIdentificationSequence[0].AlgorithmVersion == "2.18.0"
    import highdicom as hd

    from oculus.colors import color_of
    lab = hd.color.CIELabColor.from_dicom_value(tuple(liver.RecommendedDisplayCIELabValue))
    assert np.allclose(lab.to_rgb(), color_of("liver"), atol=1)
    kidney = by_label["kidney_left"].SegmentedPropertyTypeCodeSequence[0]
    assert kidney.SegmentedPropertyTypeModifierCodeSequence[0].CodeMeaning == "Left"
    local = by_label["made_up_structure"].SegmentedPropertyTypeCodeSequence[0]
    assert local.CodingSchemeDesignator == "99OCULUS" and local.CodeMeaning == "made_up_structure"
    assert seg.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99OCULUS"


# --- RTSTRUCT -------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", ORIENTATIONS.values(), ids=ORIENTATIONS.keys())
def test_rtstruct_contours_fill_back_to_the_labels(tmp_path, orientation):
    datasets = write_series(tmp_path / "series", orientation=orientation, shuffle=True)
    run(tmp_path / "series", tmp_path / "out")
    rt = pydicom.dcmread(tmp_path / "out" / RTSTRUCT_NAME)
    assert rt.Modality == "RTSTRUCT" and rt.PatientID == "P-1"
    assert rt.StudyInstanceUID == datasets[0].StudyInstanceUID
    ref_series = rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0] \
        .RTReferencedSeriesSequence[0]
    assert ref_series.SeriesInstanceUID == datasets[0].SeriesInstanceUID
    from oculus.colors import color_of

    colours = {r.ReferencedROINumber: [int(v) for v in r.ROIDisplayColor] for r in rt.ROIContourSequence}
    for roi in rt.StructureSetROISequence:
        assert colours[roi.ROINumber] == list(color_of(roi.ROIName))
    by_uid = {str(ds.SOPInstanceUID): ds for ds in datasets}
    masks = checks.rtstruct_masks(tmp_path / "out" / RTSTRUCT_NAME, by_uid)
    truth = truth_labels()
    assert set(masks) == set(CLASSES.values())
    for name, per_slice in masks.items():
        filled = np.stack([per_slice.get(str(ds.SOPInstanceUID), np.zeros((ROWS, COLS), bool))
                           for ds in datasets])
        assert checks.dice(filled, truth == LABEL_OF[name]) >= 0.95, name


# --- validation and reproducibility ------------------------------------------------------------


@pytest.mark.parametrize("source", ["oblique_series", "enhanced_multiframe"])
def test_dciodvfy_finds_no_errors(tmp_path, source):
    if source == "enhanced_multiframe":
        path = tmp_path / "enhanced.dcm"
        write_enhanced(path, frame_order=[3, 1, 0, 2, 4, 5, 7, 6])
    else:
        path = tmp_path / "series"
        write_series(path, orientation=ORIENTATIONS["oblique_flipped"], shuffle=True)
    _, written = run(path, tmp_path / "out")
    assert written.names == [SEG_NAME, RTSTRUCT_NAME], written.warnings
    for name in written.names:
        errors, _warnings = checks.dciodvfy(tmp_path / "out" / name)
        assert errors == [], name


def test_zip_upload_works_after_its_files_are_gone(tmp_path):
    """The loader extracts a ZIP to a temporary folder removed before the writers run."""
    import zipfile

    datasets = write_series(tmp_path / "series", shuffle=True)
    with zipfile.ZipFile(tmp_path / "series.zip", "w") as archive:
        for path in sorted((tmp_path / "series").iterdir()):
            archive.write(path, f"upload/{path.name}")
    volume, written = run(tmp_path / "series.zip", tmp_path / "out")
    assert written.names == [SEG_NAME, RTSTRUCT_NAME], written.warnings
    for ds in volume.dicom_source.datasets:  # nothing left to read from the deleted files
        items = [ds.get_item(tag, keep_deferred=True) for tag in ds.keys()]
        deferred = [item.tag for item in items if item.is_raw and item.value is None]
        assert deferred == [] and "PixelData" not in ds
    back = checks.seg_labels_by_instance(tmp_path / "out" / SEG_NAME,
                                         [str(ds.SOPInstanceUID) for ds in datasets], LABEL_OF)
    np.testing.assert_array_equal(back, truth_labels())


def test_rerun_is_byte_identical(tmp_path):
    write_series(tmp_path / "series")
    run(tmp_path / "series", tmp_path / "a")
    run(tmp_path / "series", tmp_path / "b")
    for name in (SEG_NAME, RTSTRUCT_NAME):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# --- input that cannot carry SEG/RTSTRUCT: NIfTI and broken geometry -----------------------------


def test_nifti_input_gets_no_dicom_files_and_says_why(tmp_path):
    volume = Volume(data=np.zeros((8, 8, 4), np.int16), affine=np.eye(4), source_format="nifti")
    labels = np.zeros((8, 8, 4), np.uint8)
    labels[2:5, 2:5, 1:3] = 1
    written = write_dicom_outputs(volume, Segmentation(labels, np.eye(4), CLASSES, ENGINE), tmp_path)
    assert written.names == [] and list(tmp_path.iterdir()) == []
    assert len(written.warnings) == 1 and "not a DICOM series" in written.warnings[0]


def test_mixed_frames_of_reference_give_no_dicom_files(tmp_path):
    uids = [generate_uid(), generate_uid()]
    write_series(tmp_path / "series", frame_of_reference=lambda k: uids[k % 2])
    volume, written = run(tmp_path / "series", tmp_path / "out")
    assert volume.shape == (COLS, ROWS, SLICES)  # the NIfTI and meshes still come
    assert written.names == [] and list((tmp_path / "out").iterdir()) == []
    assert "frames of reference" in written.warnings[0]


def test_unevenly_spaced_slices_give_no_dicom_files(tmp_path):
    write_series(tmp_path / "series", skip_slice=4)
    volume, written = run(tmp_path / "series", tmp_path / "out")
    assert volume.shape == (COLS, ROWS, SLICES)  # interpolated onto the regular grid
    assert written.names == []
    assert "not evenly spaced" in written.warnings[0]


def test_series_with_non_parallel_slices_gives_no_dicom_files(tmp_path):
    write_series(tmp_path / "series", extra_tilted_slice=True)
    volume, written = run(tmp_path / "series", tmp_path / "out")
    assert volume.shape == (COLS, ROWS, SLICES)  # the NIfTI and meshes still come, from the stack
    assert written.names == []
    assert "not parallel" in written.warnings[0]


def test_enhanced_with_a_tilted_frame_gives_no_dicom_files(tmp_path):
    write_enhanced(tmp_path / "enhanced.dcm", frame_order=list(range(SLICES)), tilt_frame=3)
    _, written = run(tmp_path / "enhanced.dcm", tmp_path / "out")
    assert written.names == []
    assert "not parallel" in written.warnings[0]


def test_missing_patient_and_study_ids_are_generated_with_a_warning(tmp_path):
    write_series(tmp_path / "series", ids=False)
    _, written = run(tmp_path / "series", tmp_path / "out")
    assert written.names == [SEG_NAME, RTSTRUCT_NAME]
    assert len(written.warnings) == 1
    assert "PatientID" in written.warnings[0] and "StudyInstanceUID" in written.warnings[0]
    seg = pydicom.dcmread(tmp_path / "out" / SEG_NAME)
    rt = pydicom.dcmread(tmp_path / "out" / RTSTRUCT_NAME)
    assert seg.PatientID.startswith("OCULUS-") and seg.PatientID == rt.PatientID
    assert seg.StudyInstanceUID == rt.StudyInstanceUID != ""
    assert seg.PatientID in written.warnings[0]


def test_a_writer_failure_is_a_warning_not_a_failed_job(tmp_path, monkeypatch):
    import oculus.dicom_out as dicom_out

    def broken(prepared, path):
        path.write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(dicom_out, "write_rtstruct", broken)
    write_series(tmp_path / "series")
    _, written = run(tmp_path / "series", tmp_path / "out")
    assert written.names == [SEG_NAME]
    assert not (tmp_path / "out" / RTSTRUCT_NAME).exists()
    assert "rtstruct.dcm could not be written (RuntimeError: disk full)" in written.warnings[0]


def test_the_loaded_headers_are_left_as_read(tmp_path):
    write_series(tmp_path / "series", ids=False)
    volume = load_volume(tmp_path / "series")
    write_dicom_outputs(volume, segment(volume), tmp_path)
    assert all(ds.PatientID == "" and "SliceThickness" not in ds for ds in volume.dicom_source.datasets)
