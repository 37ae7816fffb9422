"""seg.dcm and rtstruct.dcm for the real CT series and TotalSegmentator's own segmentation of it.

``example_seg_dicom.nii.gz`` lies on the loader's grid (test_io_dicom checks that), so it is the
engine's label map for ``example_ct_dicom``. The series is anonymised without Patient ID and
Study/Series/SOP Instance UIDs in the datasets: the writers take the SOP UIDs from the file
meta and generate the rest, with a warning.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from oculus.colors import class_names
from oculus.dicom_out import RTSTRUCT_NAME, SEG_NAME, write_dicom_outputs
from oculus.io import load_volume
from oculus.segment.base import EngineInfo, Segmentation

_checks_path = Path(__file__).parents[2] / "unit" / "engine" / "dicom_checks.py"
_spec = importlib.util.spec_from_file_location("dicom_checks", _checks_path)
checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checks)


@pytest.fixture(scope="module")
def source(shared_data):
    """(volume, segmentation, source headers with their HU pixels, sorted by SOP UID)."""
    series = shared_data / "ct" / "example_ct_dicom"
    volume = load_volume(series)
    labels = np.asarray(nib.load(shared_data / "ct" / "example_seg_dicom.nii.gz").dataobj).astype(np.uint8)
    segmentation = Segmentation(labels=labels, affine=volume.affine, classes=class_names("total"),
                                engine=EngineInfo("totalsegmentator", "2.18.0", "total"))
    files = {}
    for path in sorted(series.iterdir()):
        ds = pydicom.dcmread(path)
        hu = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
        files[str(ds.file_meta.MediaStorageSOPInstanceUID)] = (ds, hu)
    return volume, segmentation, files


@pytest.fixture(scope="module")
def written(source, tmp_path_factory):
    volume, segmentation, _ = source
    out = tmp_path_factory.mktemp("dicom_out")
    return out, write_dicom_outputs(volume, segmentation, out)


def _truth_by_instance(source) -> tuple[list[str], np.ndarray]:
    """Each source file's slice of the label map, found through the file's own HU pixels."""
    volume, segmentation, files = source
    uids = list(files)
    stack_hu = volume.dicom_source.to_stack(volume.data)
    stack_labels = volume.dicom_source.to_stack(segmentation.labels)
    truth = []
    for uid in uids:
        matches = [k for k in range(len(stack_hu)) if np.array_equal(stack_hu[k], files[uid][1])]
        assert len(matches) == 1, "every source file is exactly one slice of the volume"
        truth.append(stack_labels[matches[0]])
    return uids, np.stack(truth)


def test_both_files_are_written_with_generated_identifiers_said(written):
    _, result = written
    assert result.names == [SEG_NAME, RTSTRUCT_NAME]
    assert len(result.warnings) == 1 and "PatientID" in result.warnings[0]


def test_seg_matches_the_label_map_voxel_for_voxel(source, written):
    out, _ = written
    uids, truth = _truth_by_instance(source)
    name_to_label = {name: label for label, name in source[1].classes.items()}
    back = checks.seg_labels_by_instance(out / SEG_NAME, uids, name_to_label)
    np.testing.assert_array_equal(back, truth)
    seg = pydicom.dcmread(out / SEG_NAME)
    first = next(iter(source[2].values()))[0]
    assert seg.FrameOfReferenceUID == first.FrameOfReferenceUID
    assert len(seg.SegmentSequence) == len(np.unique(source[1].labels)) - 1


def test_rtstruct_fills_back_with_dice_of_at_least_0_95(source, written):
    out, _ = written
    uids, truth = _truth_by_instance(source)
    headers = {uid: ds for uid, (ds, _) in source[2].items()}
    masks = checks.rtstruct_masks(out / RTSTRUCT_NAME, headers)
    name_to_label = {name: label for label, name in source[1].classes.items()}
    scores = {}
    for name, per_slice in masks.items():
        filled = np.stack([per_slice.get(uid, np.zeros(truth.shape[1:], bool)) for uid in uids])
        scores[name] = checks.dice(filled, truth == name_to_label[name])
    assert len(scores) == len(np.unique(truth)) - 1
    assert min(scores.values()) >= 0.95, sorted(scores.items(), key=lambda item: item[1])[:3]


@pytest.mark.parametrize("name", [SEG_NAME, RTSTRUCT_NAME])
def test_dciodvfy_reports_no_errors(written, name):
    out, _ = written
    errors, warnings = checks.dciodvfy(out / name)
    assert errors == [], errors
    print(f"{name}: dciodvfy warnings: {warnings}")


# --- through the job's writer (oculus.outputs.write_outputs and the result-file registry) --------

def _job(volume, out: Path) -> dict:
    from oculus.outputs import write_outputs

    return write_outputs(volume, checks.segment(volume), out)


def test_a_dicom_job_lists_and_zips_both_files(tmp_path):
    import json
    import zipfile

    checks.write_series(tmp_path / "series", shuffle=True)
    summary = _job(load_volume(tmp_path / "series"), tmp_path / "out")
    files = {f["name"]: f["contentType"] for f in summary["files"]}
    assert files[SEG_NAME] == files[RTSTRUCT_NAME] == "application/dicom"
    with zipfile.ZipFile(tmp_path / "out" / "result.zip") as archive:
        assert {SEG_NAME, RTSTRUCT_NAME} <= set(archive.namelist())
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert not any("DICOM SEG" in w for w in report["warnings"])


def test_a_nifti_job_has_no_dicom_files_and_its_report_says_why(tmp_path):
    import json

    from oculus.volume import Volume

    checks.write_series(tmp_path / "series")
    loaded = load_volume(tmp_path / "series")
    volume = Volume(data=loaded.data, affine=loaded.affine, source_format="nifti", modality="CT")
    summary = _job(volume, tmp_path / "out")
    names = {f["name"] for f in summary["files"]}
    assert SEG_NAME not in names and RTSTRUCT_NAME not in names
    assert not (tmp_path / "out" / SEG_NAME).exists()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert any("not a DICOM series" in w for w in report["warnings"])
    assert any("not a DICOM series" in w for w in summary["result"]["warnings"])
