"""The real installed TotalSegmentator runs end to end through our adapter on stand-in weights.

The weights are tiny random nnU-Net models this test writes itself (see standin_weights.py), so
the labels are nonsense; what is checked is the code path: TotalSegmentator's task config,
weight lookup, resampling, nnU-Net inference on the CPU, reorientation back to the input grid,
no network access, and usage statistics switched off.
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
from oculus.segment.totalseg import TotalSegmentatorEngine, task_class_names
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


def small_ct_not_in_ras(shared_data: Path) -> Volume:
    """A crop of the real small CT, stored left-to-right flipped (LAS) so reorientation is exercised."""
    img = nib.load(shared_data / "ct" / "example_ct_sm.nii.gz")
    data = np.asanyarray(img.dataobj)[20:100, 15:90, 4:28]
    affine = img.affine.copy()
    affine[:3, 3] = img.affine[:3, :3] @ np.array([20, 15, 4]) + img.affine[:3, 3]
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip[0, 3] = data.shape[0] - 1
    return Volume(data=data[::-1].copy(), affine=affine @ flip, source_format="nifti", modality="CT")


def test_real_totalsegmentator_runs_on_standin_weights_offline(shared_data, totalseg_home, network_attempts):
    options = SegmentOptions(task="total", fast=True, device="gpu")
    standin_weights.install_standin_weights(options.task, options.fast)
    volume = small_ct_not_in_ras(shared_data)
    assert nib.aff2axcodes(volume.affine) == ("L", "A", "S")
    torchvision_was_loaded = "torchvision" in sys.modules

    seg = TotalSegmentatorEngine().segment(volume, options)

    assert seg.labels.shape == volume.shape
    np.testing.assert_allclose(seg.affine, volume.affine)
    present = set(np.unique(seg.labels).tolist()) - {0}
    assert present, "random weights should still produce some foreground labels"
    names = task_class_names("total")
    assert present <= set(names)
    assert seg.classes == {i: names[i] for i in present}
    assert seg.engine.name == "totalsegmentator"
    assert seg.engine.version == importlib.metadata.version("TotalSegmentator")
    # This machine has no CUDA: "gpu" must fall back to the CPU and say so.
    assert any("CPU" in w for w in seg.warnings)
    assert network_attempts == []
    config = json.loads((totalseg_home / "config.json").read_text())
    assert config["send_usage_stats"] is False
    assert config["prediction_counter"] == 1  # TotalSegmentator really ran to its end
    # PyPI's torchvision (a CUDA build) cannot load beside CPU torch: inference must not need it.
    assert torchvision_was_loaded or "torchvision" not in sys.modules


def test_missing_crop_model_for_roi_subset_is_weights_missing(shared_data, totalseg_home):
    standin_weights.install_standin_weights("total", fast=True)  # 297 only, no 298 crop model
    volume = small_ct_not_in_ras(shared_data)
    with pytest.raises(EngineUnavailableError) as err:
        TotalSegmentatorEngine().segment(
            volume, SegmentOptions(task="total", fast=True, roi_subset=("liver",), device="cpu")
        )
    assert err.value.code == "weights_missing"
    assert "Dataset298" in err.value.message
