"""The labels engine: a label map the user already has, named by class map or sidecar."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest

from oculus.colors import class_names
from oculus.errors import InputError
from oculus.segment.base import SegmentOptions
from oculus.segment.labels import LabelsEngine, read_names


def _save(path, labels, affine=None):
    nib.save(nib.Nifti1Image(labels, np.diag([1.5, 1.5, 2.0, 1.0]) if affine is None else affine), path)
    return path


def test_real_totalsegmentator_output_gets_class_map_names(shared_data, tmp_path):
    source = shared_data / "ct" / "example_seg.nii.gz"
    engine = LabelsEngine.from_file(source)
    volume = engine.reference_volume()
    segmentation = engine.segment(volume, SegmentOptions(task="total"))
    names = class_names("total")
    assert len(segmentation.classes) == 41
    assert all(segmentation.classes[k] == names[k] for k in segmentation.classes)
    assert segmentation.engine.name == "labels" and "class map 'total'" in segmentation.engine.note
    assert volume.source_format == "label-map" and segmentation.warnings == []


def test_reference_scan_provides_intensities_and_must_share_the_grid(shared_data, tmp_path):
    engine = LabelsEngine.from_file(shared_data / "ct" / "example_seg.nii.gz")
    volume = engine.reference_volume(shared_data / "ct" / "example_ct_sm.nii.gz")
    assert volume.shape == engine.labels.shape and volume.source_format == "nifti"
    with pytest.raises(InputError) as error:
        engine.reference_volume(shared_data / "ct" / "example_ct.nii.gz")
    assert error.value.code == "label_map_mismatch"


def test_json_sidecar_names_win_and_unnamed_ids_are_reported(tmp_path):
    labels = np.zeros((8, 8, 8), np.uint8)
    labels[1:4, 1:4, 1:4] = 1
    labels[5:7, 5:7, 5:7] = 9
    path = _save(tmp_path / "case.nii.gz", labels)
    (tmp_path / "case.json").write_text(json.dumps({"1": "tumour"}))
    engine = LabelsEngine.from_file(path)
    segmentation = engine.segment(engine.reference_volume(), SegmentOptions())
    assert segmentation.classes == {1: "tumour", 9: "label_9"}
    assert "case.json" in segmentation.engine.note
    assert len(segmentation.warnings) == 1 and "9" in segmentation.warnings[0]


def test_slicer_and_itksnap_colour_tables(tmp_path):
    slicer = tmp_path / "a.ctbl"
    slicer.write_text("# 3D Slicer colour table\n0 background 0 0 0 0\n1 liver 200 100 50 255\n2 spleen 1 2 3 255\n")
    assert read_names(slicer) == {1: "liver", 2: "spleen"}
    itk = tmp_path / "b.txt"
    itk.write_text('# ITK-SnAP Label Description File\n    0     0    0    0        0  0  0    "Clear Label"\n'
                   '    1   255    0    0        1  1  1    "left kidney"\n')
    assert read_names(itk) == {1: "left kidney"}
    bad = tmp_path / "c.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError) as error:
        read_names(bad)
    assert error.value.code == "invalid_label_names"


def test_unknown_task_is_refused(shared_data, tmp_path):
    path = shutil.copy(shared_data / "ct" / "example_seg.nii.gz", tmp_path / "seg.nii.gz")
    with pytest.raises(InputError) as error:
        LabelsEngine.from_file(path, task="nope")
    assert error.value.code == "unknown_task"


def test_empty_label_map_is_refused_by_the_loader(tmp_path):
    path = _save(tmp_path / "empty.nii.gz", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(InputError) as error:
        LabelsEngine.from_file(path)
    assert error.value.code == "empty_label_map"


def test_a_damaged_label_map_fails_its_job_with_the_loaders_error(tmp_path):
    # the label map loads on a thread while the writers import (pipeline): its error still
    # reaches the caller, typed
    from oculus.errors import CorruptFileError
    from oculus.options import ProcessOptions
    from oculus.pipeline import mesh_label_map

    labels = np.zeros((30, 30, 30), np.uint8)
    labels[5:20, 5:20, 5:20] = 1
    path = _save(tmp_path / "labels.nii.gz", labels)
    path.write_bytes(path.read_bytes()[:-200])
    out = tmp_path / "out"
    with pytest.raises(CorruptFileError) as error:
        mesh_label_map(path, out, ProcessOptions())
    assert error.value.code == "truncated_file"


def test_boxes_are_found_once_and_handed_to_the_mesher(tmp_path):
    labels = np.zeros((10, 12, 14), np.uint8)
    labels[2:5, 3:7, 4:9] = 2
    engine = LabelsEngine.from_file(_save(tmp_path / "labels.nii.gz", labels))
    boxes = engine.boxes
    segmentation = engine.segment(engine.reference_volume(), SegmentOptions(task="total"))
    assert segmentation.boxes is boxes
    assert boxes == [None, (slice(2, 5), slice(3, 7), slice(4, 9))]
