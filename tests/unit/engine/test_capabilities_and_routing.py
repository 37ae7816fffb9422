"""What the engine publishes about itself (GET /capabilities reads it) and the MR -> total_mr routing."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from oculus import capabilities
from oculus.io import load_volume
from oculus.options import ProcessOptions
from oculus.pipeline import process_scan
from oculus.segment import totalseg
from oculus.segment.base import EngineInfo, Segmentation, SegmentOptions
from oculus.segment.routing import route_task, scan_modality
from oculus.volume import Volume

from .test_engine_select import install_fake_model_files, totalseg_home  # noqa: F401 - fixture


def test_without_weights_totalsegmentator_is_installed_but_not_usable(totalseg_home):  # noqa: F811
    seg = capabilities.segmentation_capabilities()
    ts = seg["totalsegmentator"]
    assert ts["installed"] is True and ts["usable"] is False and seg["default"] == "threshold"
    assert [t["name"] for t in ts["tasks"]] == ["total", "total_mr"]
    assert not any(t["weights"] or t["fastWeights"] for t in ts["tasks"])
    total = ts["tasks"][0]["structures"]
    assert len(total) == 117 and "liver" in total and total == sorted(total)


def test_fast_weights_make_totalsegmentator_the_default(totalseg_home):  # noqa: F811
    install_fake_model_files("total", fast=True)
    seg = capabilities.segmentation_capabilities()
    total, total_mr = seg["totalsegmentator"]["tasks"]
    assert (total["weights"], total["fastWeights"], total_mr["fastWeights"]) == (False, True, False)
    assert seg["totalsegmentator"]["usable"] is True and seg["default"] == "totalsegmentator"


def test_publish_writes_the_document_to_the_bucket_and_retries(monkeypatch):
    monkeypatch.setenv("OCULUS_BUCKET", "data-bucket")
    written, failures = [], [OSError("NoSuchBucket")]

    def put(location, document):
        if failures:
            raise failures.pop()
        written.append((str(location), document))

    capabilities.publish({"default": "threshold"}, put=put, delay_s=0).join(5)
    [(where, document)] = written
    assert where == "s3://data-bucket/engine/capabilities.json"
    assert document["segmentation"] == {"default": "threshold"} and document["engineVersion"]
    assert document["publishedAt"].endswith("+00:00")


def test_nothing_is_published_without_a_bucket(monkeypatch):
    monkeypatch.delenv("OCULUS_BUCKET", raising=False)
    assert capabilities.publish({}, put=lambda *_: pytest.fail("published")) is None


def _volume(modality, source_format="dicom-series"):
    return Volume(data=np.zeros((4, 4, 4), np.int16), affine=np.eye(4), source_format=source_format, modality=modality)


def test_dicom_mr_asked_for_total_runs_total_mr():
    options, routing = route_task(_volume("MR"), SegmentOptions(task="total"))
    assert options.task == "total_mr" and routing.requested == "total" and "DICOM Modality" in routing.why


@pytest.mark.parametrize("modality, task", [("CT", "total"), ("MR", "total_mr")])
def test_ct_and_explicitly_chosen_tasks_are_left_alone(modality, task):
    options, routing = route_task(_volume(modality), SegmentOptions(task=task))
    assert routing is None and options.task == task


def test_nifti_modality_comes_from_the_intensities(shared_data):
    mr = load_volume(shared_data / "ct" / "example_mr_sm.nii.gz")
    ct = load_volume(shared_data / "ct" / "example_ct_sm.nii.gz")
    assert scan_modality(mr)[0] == "MR" and "Hounsfield" in scan_modality(mr)[1]
    assert scan_modality(ct)[0] == "CT"


def test_routing_is_recorded_only_where_totalsegmentator_ran_the_routed_task():
    _, routing = route_task(_volume("MR"), SegmentOptions(task="total"))
    labels = np.zeros((4, 4, 4), np.uint16)
    ran = routing.record(Segmentation(labels, np.eye(4), {}, EngineInfo("totalsegmentator", "2.18", task="total_mr")))
    info = ran.engine.to_dict()
    assert info["routedFrom"] == "total" and info["modality"] == "MR" and "total_mr" in info["note"]
    fallback = routing.record(Segmentation(labels, np.eye(4), {}, EngineInfo("threshold", "1", degraded=True)))
    assert "routedFrom" not in fallback.engine.to_dict()


def test_an_mr_scan_without_mr_weights_falls_back_and_names_total_mr(shared_data, tmp_path, totalseg_home):  # noqa: F811
    summary = process_scan(shared_data / "ct" / "example_mr_sm.nii.gz", tmp_path / "out", ProcessOptions(device="cpu"))
    assert summary["engine"]["name"] == "threshold" and "routedFrom" not in summary["engine"]
    assert "total_mr" in summary["engine"]["note"]  # the weights it looked for


def test_an_mr_scan_runs_total_mr_and_the_report_says_so(shared_data, tmp_path, totalseg_home, monkeypatch):  # noqa: F811
    install_fake_model_files("total_mr", fast=False)
    asked: list[str] = []

    def fake_run(self, volume, options, roi_subset, device):
        asked.append(options.task)
        labels = np.zeros(volume.shape, np.uint8)
        labels[30:80, 20:70, 5:15] = 1  # one block named by total_mr's class map
        return nib.Nifti1Image(labels, volume.affine)

    monkeypatch.setattr(totalseg, "register_trainers", lambda folders: None)
    monkeypatch.setattr(totalseg.TotalSegmentatorEngine, "_run", fake_run)
    summary = process_scan(shared_data / "ct" / "example_mr_sm.nii.gz", tmp_path / "out", ProcessOptions(device="cpu"))
    assert asked == ["total_mr"]
    engine = summary["engine"]
    assert (engine["name"], engine["task"], engine["routedFrom"], engine["modality"]) == ("totalsegmentator", "total_mr", "total", "MR")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["engine"]["routedFrom"] == "total" and report["engine"]["task"] == "total_mr"
