"""Engine selection against a temporary TOTALSEG_HOME_DIR with and without the weight folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from oculus.errors import EngineUnavailableError, InputError
from oculus.segment.base import SegmentOptions
from oculus.segment.select import select_engine
from oculus.segment.threshold import ThresholdEngine
from oculus.segment.totalseg import (
    TotalSegmentatorEngine,
    required_model_folders,
    weights_available,
)

FAST_TOTAL = SegmentOptions(task="total", fast=True)


@pytest.fixture
def totalseg_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "home"))
    monkeypatch.delenv("TOTALSEG_WEIGHTS_PATH", raising=False)
    return tmp_path / "home"


def install_fake_model_files(task: str, fast: bool, roi_subset=None) -> list[Path]:
    """Only the files the availability check looks for (no loadable weights)."""
    folders = required_model_folders(task, fast, roi_subset=roi_subset)
    for folder in folders:
        for path in [folder.path / "plans.json", folder.path / "dataset.json", *folder.checkpoints()]:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}")
    return [f.path for f in folders]


def test_fast_total_needs_dataset_297_folder_in_totalsegmentator_layout(totalseg_home):
    (folder,) = required_model_folders("total", fast=True)
    assert folder.path == (
        totalseg_home / "nnunet" / "results" / "Dataset297_TotalSegmentator_total_3mm_1559subj"
        / "nnUNetTrainer_4000epochs_NoMirroring__nnUNetPlans__3d_fullres"
    )
    assert folder.folds == (0,)


def test_weights_path_env_overrides_home(totalseg_home, tmp_path, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "w"))
    (folder,) = required_model_folders("total", fast=True)
    assert folder.path.parent.parent == tmp_path / "w"


def test_full_total_needs_all_five_part_models(totalseg_home):
    ids = [f.task_id for f in required_model_folders("total", fast=False)]
    assert ids == [291, 292, 293, 294, 295]


def test_auto_without_weights_falls_back_to_threshold_and_says_why(totalseg_home):
    engine, note = select_engine("auto", FAST_TOTAL)
    assert isinstance(engine, ThresholdEngine)
    info = engine.info()
    assert info.degraded and info.name == "threshold"
    assert info.note == note
    assert "not installed" in note and "Dataset297" in note


def test_auto_with_weights_picks_totalsegmentator(totalseg_home):
    install_fake_model_files("total", fast=True)
    assert weights_available("total", fast=True)
    engine, note = select_engine("auto", FAST_TOTAL)
    assert isinstance(engine, TotalSegmentatorEngine)
    assert note == ""


def test_weights_for_fast_do_not_count_for_full_model(totalseg_home):
    install_fake_model_files("total", fast=True)
    engine, _ = select_engine("auto", SegmentOptions(task="total", fast=False))
    assert isinstance(engine, ThresholdEngine)


def test_missing_checkpoint_is_not_available(totalseg_home):
    (folder,) = install_fake_model_files("total", fast=True)
    (folder / "fold_0" / "checkpoint_final.pth").unlink()
    assert not weights_available("total", fast=True)


def test_roi_subset_also_needs_the_crop_model(totalseg_home):
    install_fake_model_files("total", fast=True)
    options = SegmentOptions(task="total", fast=True, roi_subset=("liver",))
    with pytest.raises(EngineUnavailableError) as err:
        select_engine("totalsegmentator", options)
    assert "Dataset298" in err.value.message
    install_fake_model_files("total", fast=True, roi_subset=["liver"])
    assert isinstance(select_engine("totalsegmentator", options)[0], TotalSegmentatorEngine)


def test_explicit_totalsegmentator_without_weights_is_weights_missing(totalseg_home):
    with pytest.raises(EngineUnavailableError) as err:
        select_engine("totalsegmentator", FAST_TOTAL)
    assert err.value.code == "weights_missing"
    assert "totalseg_download_weights -t total_fast" in err.value.message
    assert str(totalseg_home) in err.value.message


def test_explicit_threshold_is_used_even_with_weights(totalseg_home):
    install_fake_model_files("total", fast=True)
    engine, note = select_engine("threshold", FAST_TOTAL)
    assert isinstance(engine, ThresholdEngine)
    assert "requested" in note


def test_unknown_engine_and_task_are_input_errors(totalseg_home):
    with pytest.raises(InputError) as err:
        select_engine("magic", FAST_TOTAL)
    assert err.value.code == "invalid_options"
    with pytest.raises(InputError) as err:
        select_engine("auto", SegmentOptions(task="no_such_task"))
    assert err.value.code == "unknown_task"


def test_licensed_task_is_refused_without_exiting(totalseg_home):
    with pytest.raises(EngineUnavailableError) as err:
        select_engine("totalsegmentator", SegmentOptions(task="tissue_types"))
    assert err.value.code == "license_required"
