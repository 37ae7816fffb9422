"""write_outputs on the real example CT and TotalSegmentator's reference segmentation."""

from __future__ import annotations

import csv
import io
import itertools
import json
import zipfile

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from oculus import outputs
from oculus.colors import class_names
from oculus.errors import InputError
from oculus.outputs import write_outputs
from oculus.results import VOLUME_RESULTS, content_type_for
from oculus.segment.base import EngineInfo, Segmentation
from oculus.volume import Volume

EXPECTED = ["scene.obj", "scene.mtl", "scene.glb", "segmentation.nii.gz", "report.json", "report.csv", "preview.png"]
NOT_IN_ZIP = {"result.zip", "scan.nii.gz"}


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
    stages: list[tuple[str, float]] = []
    published: list[tuple[list[dict], dict[str, bytes], bool]] = []

    def viewable(files: list[dict]) -> None:  # what a server would upload at this moment
        contents = {f["name"]: (out / f["name"]).read_bytes() for f in files}
        published.append((files, contents, (out / "result.zip").exists()))

    summary = write_outputs(volume, segmentation, out, stl=True, progress=lambda *call: stages.append(call),
                            viewable=viewable)
    summary["progress"], summary["published"] = stages, published
    return out, summary


def test_the_viewers_files_are_handed_over_complete_before_the_package(written):
    out, summary = written
    [(files, contents, zip_existed)] = summary["published"]  # once
    assert [f["name"] for f in files] == ["scene.glb", "report.json"] and not zip_existed
    final = {f["name"]: f for f in summary["files"]}
    for entry in files:  # the very files the job ends with, not a draft of them
        assert entry == final[entry["name"]]
        assert contents[entry["name"]] == (out / entry["name"]).read_bytes()


def test_summary_lists_every_file_with_size_and_type(written):
    out, summary = written
    names = [f["name"] for f in summary["files"]]
    assert names[: len(EXPECTED)] == EXPECTED and names[-2:] == ["result.zip", "scan.nii.gz"]
    assert sum(n.startswith("stl/") for n in names) == 41
    for entry in summary["files"]:
        assert entry["size"] == (out / entry["name"]).stat().st_size > 0
    types = {f["name"]: f["contentType"] for f in summary["files"]}
    assert types["scene.glb"] == "model/gltf-binary" and types["result.zip"] == "application/zip"
    result = summary["result"]
    assert result["structures"] == 41 and result["coordinateSystem"] == "RAS"
    assert result["structureNames"][0] == "spleen"
    assert result["warnings"][0] == "a loader warning"
    assert [w for w in result["warnings"][1:] if "not a DICOM series" in w]  # no seg.dcm: NIfTI input
    assert result["triangles"] == sum(s["triangles"] for s in json.loads((out / "report.json").read_text())["structures"])


def test_zip_holds_every_other_file_byte_for_byte(written):
    out, summary = written
    with zipfile.ZipFile(out / "result.zip") as archive:
        members = archive.namelist()
        assert members == sorted(members)
        assert set(members) == {f["name"] for f in summary["files"]} - NOT_IN_ZIP
        for name in members:
            assert archive.read(name) == (out / name).read_bytes()
            assert archive.getinfo(name).date_time == (1980, 1, 1, 0, 0, 0)


def test_label_nifti_round_trips_with_the_scan_affine(inputs, written):
    _, segmentation = inputs
    out, _ = written
    image = nib.load(out / "segmentation.nii.gz")
    assert np.array_equal(np.asarray(image.dataobj), segmentation.labels)
    assert np.allclose(image.affine, segmentation.affine)


def _measured_with_masks(labels, intensity, affine) -> dict[int, dict]:
    """Per-structure numbers from one boolean mask each: a reference independent of oculus.report."""
    reference = {}
    for label in np.unique(labels[labels > 0]):
        mask = labels == label
        index = np.argwhere(mask)
        values = intensity[mask].astype(np.float64)
        faces = zip(index.min(axis=0) - 0.5, index.max(axis=0) + 0.5, strict=True)  # outer voxel faces
        p5, median, p95 = np.percentile(values, [5, 50, 95])
        corners = nib.affines.apply_affine(affine, np.array(list(itertools.product(*faces))))
        reference[int(label)] = {
            "voxelCount": len(index),
            "volumeMl": len(index) * abs(np.linalg.det(affine[:3, :3])) / 1000.0,
            "meanIntensity": values.mean(),
            "stdIntensity": values.std(),
            "minIntensity": values.min(), "maxIntensity": values.max(),
            "medianIntensity": median, "p5Intensity": p5, "p95Intensity": p95,
            "touchesBorder": bool((index.min(axis=0) == 0).any() or (index.max(axis=0) == np.array(labels.shape) - 1).any()),
            "bboxMinMm": corners.min(axis=0),
            "bboxMaxMm": corners.max(axis=0),
            "centroidMm": nib.affines.apply_affine(affine, index.mean(axis=0)),
        }
    return reference


def test_report_statistics_match_an_independent_voxel_pass(inputs, written):
    volume, segmentation = inputs
    out, _ = written
    report = json.loads((out / "report.json").read_text())
    assert report["engine"]["name"] == "labels" and report["coordinateSystem"]["name"] == "RAS"
    assert report["input"]["shape"] == list(volume.shape) and report["intensityUnit"] == "HU"
    reference = _measured_with_masks(segmentation.labels, volume.data, segmentation.affine)
    assert [entry["label"] for entry in report["structures"]] == sorted(reference)
    for entry in report["structures"]:
        expected = reference[entry["label"]]
        assert entry["voxelCount"] == expected["voxelCount"], entry["name"]
        assert entry["volumeMl"] == pytest.approx(expected["volumeMl"], abs=1e-4), entry["name"]
        assert entry["touchesBorder"] == expected["touchesBorder"], entry["name"]
        for key in ("meanIntensity", "stdIntensity", "minIntensity", "maxIntensity", "medianIntensity",
                    "p5Intensity", "p95Intensity", "bboxMinMm", "bboxMaxMm", "centroidMm"):
            assert entry[key] == pytest.approx(expected[key], abs=2e-3), (entry["name"], key)
        assert entry["color"]["hex"].startswith("#") and len(entry["color"]["rgb"]) == 3
        assert entry["system"]
    liver = next(s for s in report["structures"] if s["name"] == "liver")
    assert 40 < liver["meanIntensity"] < 200  # liver parenchyma in HU
    assert any(s["touchesBorder"] for s in report["structures"])  # the example is cut by its edges
    assert not all(s["touchesBorder"] for s in report["structures"])


def test_report_csv_holds_the_reports_structures(written):
    out, _ = written
    report = json.loads((out / "report.json").read_text())
    raw = (out / "report.csv").read_bytes()
    assert raw.startswith(b"label,name,system,volumeMl") and b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    assert len(rows) == len(report["structures"]) == 41
    for row, entry in zip(rows, report["structures"], strict=True):
        assert row["name"] == entry["name"] and float(row["volumeMl"]) == entry["volumeMl"]
        assert row["touchesBorder"] == str(entry["touchesBorder"]).lower()
        assert float(row["p95Intensity"]) == entry["p95Intensity"]
        assert float(row["surfaceAreaMm2"]) == entry["surfaceAreaMm2"] > 0
        assert float(row["centroidZMm"]) == entry["centroidMm"][2] and row["color"] == entry["color"]["hex"]
    with zipfile.ZipFile(out / "result.zip") as archive:
        assert archive.read("report.csv") == raw
    assert report["totals"]["structures"] == 41


def test_preview_is_an_image(written):
    out, _ = written
    with Image.open(out / "preview.png") as image:
        assert image.format == "PNG" and image.width > 3 * image.height / 2


# the OBJ is written in a forked process (``own_process``) where the platform forks; on the
# export threads otherwise: the same bytes either way
@pytest.mark.parametrize("fork", [True, False])
def test_outputs_are_byte_identical_on_rerun(inputs, written, tmp_path, monkeypatch, fork):
    volume, segmentation = inputs
    first, _ = written
    if not fork:
        monkeypatch.setattr(outputs, "worker_count", lambda *_: 1)  # as on one CPU: no writer apart
    write_outputs(volume, segmentation, tmp_path, stl=True)
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert "report.json" in names and "result.zip" in names and len(names) == len(EXPECTED) + len(NOT_IN_ZIP) + 41
    for name in names:  # every file, report.json and result.zip included
        assert (tmp_path / name).read_bytes() == (first / name).read_bytes(), name
    assert "timingsSeconds" not in json.loads((first / "report.json").read_text())


def test_a_writer_failing_in_its_own_process_fails_the_job_with_its_error(inputs, tmp_path, monkeypatch):
    import os

    from oculus.mesh import export_obj

    def disk_full(*_args):
        raise OSError(28, f"No space left on device (writer pid {os.getpid()})")

    monkeypatch.setattr(export_obj, "write_obj", disk_full)  # a forked child inherits the patch
    volume, segmentation = inputs
    with pytest.raises(OSError, match="No space left") as error:
        write_outputs(volume, segmentation, tmp_path)
    if len(os.sched_getaffinity(0)) > 1:
        assert f"pid {os.getpid()})" not in str(error.value)  # it ran apart


def test_a_writer_apart_hands_its_warnings_back(inputs, tmp_path, monkeypatch):
    import dataclasses

    def obj_with_a_warning(r, path):
        r.warnings.append("the OBJ writer skipped something")
        path.write_text("# empty\n")

    entries = tuple(dataclasses.replace(e, write=obj_with_a_warning) if e.name == "scene.obj" else e
                    for e in outputs.VOLUME_RESULTS)
    monkeypatch.setattr(outputs, "VOLUME_RESULTS", entries)  # a forked child inherits the patch
    volume, segmentation = inputs
    summary = write_outputs(volume, segmentation, tmp_path)
    assert "the OBJ writer skipped something" in summary["result"]["warnings"]


def test_empty_segmentation_is_a_typed_error(inputs, tmp_path):
    volume, segmentation = inputs
    empty = Segmentation(np.zeros_like(segmentation.labels), segmentation.affine, {}, segmentation.engine)
    with pytest.raises(InputError) as error:
        write_outputs(volume, empty, tmp_path)
    assert error.value.code == "empty_segmentation"
    assert list(tmp_path.iterdir()) == []


def test_the_registry_declares_every_file_written(written):
    out, summary = written
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {f["name"] for f in summary["files"]} == on_disk
    assert {e.name for e in VOLUME_RESULTS if not e.in_zip} == NOT_IN_ZIP
    assert content_type_for("stl/liver.stl") == "model/stl"
    assert content_type_for("scan.nii.gz") == "application/gzip"
    assert content_type_for("notes.txt") == "application/octet-stream"


def test_docs_describe_every_volume_result(repo_root):
    doc = (repo_root / "docs" / "outputs.md").read_text()
    for entry in VOLUME_RESULTS:
        assert f"| `{entry.name}` | `{entry.content_type}` |" in doc, entry.name


def test_progress_stops_at_exporting_the_runner_reports_the_last_stages(written):
    _, summary = written
    stages = summary["progress"]
    assert [s for s, _ in stages][0] == "meshing" and stages[-1] == ("exporting", 100)
    assert {s for s, _ in stages} == {"meshing", "exporting"}
    percents = [p for _, p in stages]
    assert percents == sorted(percents)


def test_a_label_map_without_its_scan_gets_no_scan_nifti(inputs, tmp_path):
    volume, segmentation = inputs
    labels_only = Volume(segmentation.labels, segmentation.affine, "label-map", None)
    summary = write_outputs(labels_only, segmentation, tmp_path)
    names = [f["name"] for f in summary["files"]]
    assert names == EXPECTED + ["result.zip"]
    assert not (tmp_path / "scan.nii.gz").exists()
