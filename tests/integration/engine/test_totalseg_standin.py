"""The real installed TotalSegmentator runs end to end through our adapter on stand-in weights.

The weights are tiny nnU-Net models this test writes itself (see standin_weights.py) that label
a voxel by its intensity alone: soft tissue as ``liver``, bone as ``femur_left``. The scan is
synthetic, stored left-to-right flipped, on a grid TotalSegmentator resamples, with bone only
on the patient's left; so the label ids, the side and the extent of what comes back check
TotalSegmentator's task config, weight lookup, resampling, nnU-Net inference, reorientation
back to the input grid, no network access, and usage statistics switched off.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import socket
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from oculus.errors import EngineUnavailableError
from oculus.segment.base import SegmentOptions
from oculus.segment.totalseg import TotalSegmentatorEngine, resolve_device, task_class_names
from oculus.volume import Volume

_spec = importlib.util.spec_from_file_location("standin_weights", Path(__file__).with_name("standin_weights.py"))
standin_weights = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standin_weights)

pytestmark = pytest.mark.slow


@pytest.fixture
def totalseg_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "totalseg_home"
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(home))
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(home / "weights"))
    return home


@pytest.fixture
def network_attempts(monkeypatch) -> list:
    """Record (and refuse) every attempt to reach another host from this process."""
    attempts: list = []
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(("connect", address))
            raise OSError("network disabled in this test")
        return real_connect(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        attempts.append(("getaddrinfo", host))
        raise socket.gaierror("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    # The guard must see what TotalSegmentator's usage-statistics POST (requests) would do.
    with pytest.raises(OSError):
        socket.create_connection(("stats.totalsegmentator.com", 443), timeout=1)
    assert attempts
    attempts.clear()
    return attempts


AIR_HU, SOFT_TISSUE_HU, BONE_HU = -1000, 40, 1000
#: What the stand-in answers: (structure, lowest HU) in rising HU order; air is background.
BANDS = [("liver", -500.0), ("femur_left", 300.0)]
SPACING_MM = (2.0, 2.0, 3.0)  # the fast model works at 3 mm, so TotalSegmentator resamples


def synthetic_ct_stored_las() -> tuple[Volume, dict[str, np.ndarray]]:
    """A box of soft tissue in air with a bone block on the patient's left (world x < 0 in RAS).

    Stored LAS (array index i runs towards the patient's left) so reorientation is exercised.
    Returns the volume and, per structure, the voxels where it lies.
    """
    shape = (48, 40, 24)
    affine = np.diag([-SPACING_MM[0], SPACING_MM[1], SPACING_MM[2], 1.0])
    affine[:3, 3] = -affine[:3, :3] @ (np.array(shape) - 1) / 2  # world origin at the centre
    x, y, z = (affine[:3, :3] @ np.indices(shape).reshape(3, -1) + affine[:3, 3:]).reshape(3, *shape)
    body = (np.abs(x) < 40) & (np.abs(y) < 30) & (np.abs(z) < 28)
    bone = (x > -38) & (x < -10) & (np.abs(y) < 16) & (np.abs(z) < 20)
    data = np.full(shape, AIR_HU, np.int16)
    data[body] = SOFT_TISSUE_HU
    data[bone] = BONE_HU
    volume = Volume(data=data, affine=affine, source_format="nifti", modality="CT")
    return volume, {"liver": body & ~bone, "femur_left": bone}


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_real_totalsegmentator_runs_on_standin_weights_offline(totalseg_home, network_attempts):
    options = SegmentOptions(task="total", fast=True, device="gpu")
    standin_weights.install_standin_weights(options.task, options.fast, BANDS)
    volume, truth = synthetic_ct_stored_las()
    assert nib.aff2axcodes(volume.affine) == ("L", "A", "S")
    torchvision_was_loaded = "torchvision" in sys.modules

    seg = TotalSegmentatorEngine().segment(volume, options)

    assert seg.labels.shape == volume.shape
    np.testing.assert_allclose(seg.affine, volume.affine)
    ids = {name: label for label, name in task_class_names("total").items()}
    assert seg.classes == {ids["liver"]: "liver", ids["femur_left"]: "femur_left"}
    assert set(np.unique(seg.labels).tolist()) == {0, ids["liver"], ids["femur_left"]}
    for name, where in truth.items():
        found = seg.labels == ids[name]
        assert _dice(found, where) > 0.9, name  # resampled to 3 mm and back: edges may move
    # Left stays left: every bone voxel lies on the patient's left (world x < 0), near the truth.
    x_bone = nib.affines.apply_affine(volume.affine, np.argwhere(seg.labels == ids["femur_left"]))[:, 0]
    x_truth = nib.affines.apply_affine(volume.affine, np.argwhere(truth["femur_left"]))[:, 0]
    assert x_bone.max() < 0 and abs(x_bone.mean() - x_truth.mean()) < SPACING_MM[0]
    assert seg.engine.name == "totalsegmentator"
    assert seg.engine.version == importlib.metadata.version("TotalSegmentator")
    cpu_fallback = [w for w in seg.warnings if "ran on the CPU" in w]
    assert len(cpu_fallback) == (0 if _cuda_available() else 1)  # "gpu" without CUDA says so
    assert network_attempts == []
    config = json.loads((totalseg_home / "config.json").read_text())
    assert config["send_usage_stats"] is False
    assert config["prediction_counter"] == 1  # TotalSegmentator really ran to its end
    # PyPI's torchvision (a CUDA build) cannot load beside CPU torch: inference must not need it.
    assert torchvision_was_loaded or "torchvision" not in sys.modules


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize("cuda", [True, False])
def test_gpu_request_falls_back_to_the_cpu_only_without_cuda(monkeypatch, cuda):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    device, warnings = resolve_device("gpu")
    assert (device, len(warnings)) == (("gpu", 0) if cuda else ("cpu", 1))
    assert resolve_device("cpu") == ("cpu", [])


def test_missing_crop_model_for_roi_subset_is_weights_missing(totalseg_home):
    standin_weights.install_standin_weights("total", True, BANDS)  # 297 only, no 298 crop model
    volume, _ = synthetic_ct_stored_las()
    with pytest.raises(EngineUnavailableError) as err:
        TotalSegmentatorEngine().segment(
            volume, SegmentOptions(task="total", fast=True, roi_subset=("liver",), device="cpu")
        )
    assert err.value.code == "weights_missing"
    assert "Dataset298" in err.value.message
