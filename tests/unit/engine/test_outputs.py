"""write_outputs on the real example CT and TotalSegmentator's reference segmentation."""

from __future__ import annotations

import json
import zipfile

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from oculus.colors import class_names
from oculus.errors import InputError
from oculus.outputs import write_outputs
from oculus.report import label_statistics
from oculus.segment.base import EngineInfo, Segmentation
from oculus.volume import Volume

EXPECTED = ["scene.obj", "scene.mtl", "scene.glb", "segmentation.nii.gz", "report.json", "preview.png"]


@pytest.fixture(scope="module")
def inputs(shared_data):
    ct = nib.load(shared_data / "ct" / "example_ct_sm.nii.gz")
    seg = nib.load(shared_data / "ct" / "example_seg.nii.gz")
    volume = Volume(np.asarray(ct.dataobj), ct.affine, "nifti", "CT", warnings=["a loader warning"])
    segmentation = Segmentation(
        np.asarray(seg.dataobj).astype(np.uint8), seg.affine, class_names("total"),
        EngineInfo("labels", "0.1.0", "total", note="test"),
    )
    return volume, segmentation


@pytest.fixture(scope="module")
def written(inputs, tmp_path_factory):
    volume, segmentation = inputs
    out = tmp_path_factory.mktemp("out")
    return out, write_outputs(volume, segmentation, out, stl=True)


def test_summary_lists_every_file_with_size_and_type(written):
    out, summary = written
    names = [f["name"] for f in summary["files"]]
    assert names[:6] == EXPECTED and names[-1] == "result.zip"
    assert sum(n.startswith("stl/") for n in names) == 41
    for entry in summary["files"]:
        assert entry["size"] == (out / entry["name"]).stat().st_size > 0
    types = {f["name"]: f["contentType"] for f in summary["files"]}
    assert types["scene.glb"] == "model/gltf-binary" and types["result.zip"] == "application/zip"
    result = summary["result"]
    assert result["structures"] == 41 and result["coordinateSystem"] == "RAS"
    assert result["structureNames"][0] == "spleen"
    assert result["warnings"] == ["a loader warning"]
    assert result["triangles"] == sum(s["triangles"] for s in json.loads((out / "report.json").read_text())["structures"])


def test_zip_holds_every_other_file_byte_for_byte(written):
    out, summary = written
    with zipfile.ZipFile(out / "result.zip") as archive:
        members = archive.namelist()
        assert members == sorted(members)
        assert set(members) == {f["name"] for f in summary["files"]} - {"result.zip"}
        for name in members:
            assert archive.read(name) == (out / name).read_bytes()
            assert archive.getinfo(name).date_time == (1980, 1, 1, 0, 0, 0)


def test_label_nifti_round_trips_with_the_scan_affine(inputs, written):
    _, segmentation = inputs
    out, _ = written
    image = nib.load(out / "segmentation.nii.gz")
    assert np.array_equal(np.asarray(image.dataobj), segmentation.labels)
    assert np.allclose(image.affine, segmentation.affine)


def test_report_statistics_match_an_independent_voxel_pass(inputs, written):
    volume, segmentation = inputs
    out, _ = written
    report = json.loads((out / "report.json").read_text())
    assert report["engine"]["name"] == "labels" and report["coordinateSystem"]["name"] == "RAS"
    assert report["input"]["shape"] == list(volume.shape) and report["intensityUnit"] == "HU"
    reference = label_statistics(segmentation.labels, volume.data, segmentation.affine)
    for entry in report["structures"]:
        expected = reference[entry["label"]]
        for key in ("voxelCount", "volumeMl", "bboxMinMm", "bboxMaxMm"):
            assert entry[key] == expected[key], (entry["name"], key)
        for key in ("meanIntensity", "stdIntensity"):
            assert entry[key] == pytest.approx(expected[key], abs=2e-3)
        assert entry["centroidMm"] == pytest.approx(expected["centroidMm"], abs=2e-3)
        assert entry["color"]["hex"].startswith("#") and len(entry["color"]["rgb"]) == 3
        assert entry["system"]
    liver = next(s for s in report["structures"] if s["name"] == "liver")
    mask = segmentation.labels == liver["label"]
    assert liver["meanIntensity"] == pytest.approx(float(volume.data[mask].mean()), abs=1e-3)
    assert 40 < liver["meanIntensity"] < 200  # liver parenchyma in HU
    assert report["totals"]["structures"] == 41


def test_preview_is_an_image(written):
    out, _ = written
    with Image.open(out / "preview.png") as image:
        assert image.format == "PNG" and image.width > 3 * image.height / 2


def test_outputs_are_byte_identical_on_rerun(inputs, written, tmp_path):
    volume, segmentation = inputs
    first, _ = written
    write_outputs(volume, segmentation, tmp_path, stl=True)
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert "report.json" in names and "result.zip" in names and len(names) == len(EXPECTED) + 1 + 41
    for name in names:  # every file, report.json and result.zip included
        assert (tmp_path / name).read_bytes() == (first / name).read_bytes(), name
    assert "timingsSeconds" not in json.loads((first / "report.json").read_text())


def test_empty_segmentation_is_a_typed_error(inputs, tmp_path):
    volume, segmentation = inputs
    empty = Segmentation(np.zeros_like(segmentation.labels), segmentation.affine, {}, segmentation.engine)
    with pytest.raises(InputError) as error:
        write_outputs(volume, empty, tmp_path)
    assert error.value.code == "empty_segmentation"
    assert list(tmp_path.iterdir()) == []
