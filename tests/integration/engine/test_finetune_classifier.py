"""The fine-tuning command (ImageNet-pretrained EfficientNet-Lite0, PyTorch) end to end on a tiny
subset of the real data, and its one-channel stem against the network it was made from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from oculus.classify import load_classifier
from oculus.io import load_image

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
SAGEMAKER = Path(__file__).resolve().parents[3] / "sagemaker"


def test_the_gray_stem_gives_what_the_rgb_network_gives_on_a_gray_image():
    """Summing the stem's RGB filters is exact for a gray image copied into R, G and B, and the
    wrapper applies Lite0's own normalisation ((x - 127) / 128 on 0-255 pixels)."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    from oculus.classify.finetune import ARCH, build_network, pretrained_weights

    original = EfficientNet.from_pretrained(ARCH, weights_path=str(pretrained_weights()), num_classes=4).eval()
    gray = build_network().eval()
    gray.net._fc.load_state_dict(original._fc.state_dict())  # the new heads start random
    pixels = torch.from_numpy(np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32))
    rgb = (pixels.permute(0, 3, 1, 2).repeat(1, 3, 1, 1) * 255.0 - 127.0) / 128.0
    with torch.no_grad():
        expected, got = original(rgb).numpy(), gray(pixels).numpy()
    assert np.max(np.abs(expected - got)) < 1e-4
    assert not np.allclose(got[0], got[1])  # the images differ, so must the answers


def test_finetune_pauses_resumes_and_writes_a_servable_onnx_card(shared_data, tmp_path):
    data = shared_data / "brain-mri" / "Training"
    out = tmp_path / "lite0"
    env = {**os.environ, "PYTHONPATH": f"{SAGEMAKER}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "oculus.classify.finetune", str(data), "-o", str(out), "--epochs", "2",
               "--image-size", "64", "--limit-per-class", "8", "--version", "t1"]
    first = subprocess.run([*command, "--session-epochs", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "paused after epoch 1 of 2" in first.stdout and not (out / "card.json").exists()
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode != 0 and "--resume" in again.stderr  # never silently restarts over a checkpoint
    changed = subprocess.run([*command[:-2], "--version", "t1", "--lr", "0.1", "--resume"],
                             capture_output=True, text=True, env=env, timeout=300)
    assert changed.returncode != 0 and "recipe differs" in changed.stderr
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming after epoch 1" in resumed.stdout

    card = json.loads((out / "card.json").read_text())
    assert card["files"] == {"onnx": "model.onnx"} and card["input"]["shape"] == [64, 64, 1]
    assert card["architecture"]["name"] == "efficientnet-lite0" and "Apache-2.0" in card["architecture"]["pretrained"]
    assert card["training"]["epochs_run"] == 2 and len(card["training"]["history"]["val_accuracy"]) == 2
    assert [s["from_epoch"] for s in card["training"]["sessions"]] == [0, 1]
    assert card["onnx_export_max_abs_diff"] < 1e-4 and card["temperature"] > 0
    assert "--resume" not in card["command"] and "--epochs 2" in card["command"]
    split = card["training_data"]["split"]
    assert np.array(card["validation"]["confusion_matrix"]).sum() == split["validation"]

    classifier = load_classifier(out / "card.json")
    image = load_image(sorted((data / "meningioma").iterdir())[0])
    answer = classifier.classify(image)
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-3 and answer["model"]["version"] == "t1"


def test_two_finetuned_members_ensemble_into_one_onnx_model(shared_data, tmp_path):
    """Members without a Keras file combine at the ONNX level: one model.onnx, checked against the
    mean of the members' own ONNX logits, that the runtime serves like any version."""
    data = shared_data / "brain-mri" / "Training"
    env = {**os.environ, "PYTHONPATH": f"{SAGEMAKER}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    outs = [tmp_path / "a", tmp_path / "b"]
    for out, init in zip(outs, ("1", "2"), strict=True):
        proc = subprocess.run([sys.executable, "-m", "oculus.classify.finetune", str(data), "-o", str(out), "--epochs", "1",
                               "--image-size", "64", "--limit-per-class", "8", "--init-seed", init],
                              capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
    ens = tmp_path / "ens"
    proc = subprocess.run([sys.executable, "-m", "oculus.classify.ensemble", str(data), "-o", str(ens),
                           "--limit-per-class", "8", "--no-tta", "--member", str(outs[0]), "--member", str(outs[1]),
                           "--version", "e1"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = json.loads((ens / "card.json").read_text())
    assert card["files"] == {"onnx": "model.onnx"}
    assert card["external_data"] == {"onnx": ["member0.onnx_data", "member1.onnx_data"]}
    assert sorted(p.name for p in ens.iterdir()) == ["card.json", "member0.onnx_data", "member1.onnx_data", "model.onnx"]
    assert card["architecture"]["name"] == "ensemble of 2 x efficientnet-lite0" and card["ensemble"]["tta"] is None
    assert card["onnx_export_max_abs_diff"] < 1e-4 and "mean of the members' own ONNX logits" in card["export_check"]
    assert "final_test" not in card and "selection" not in card
    assert {"ensemble", "ensemble + flip TTA"} <= set(card["ensemble"]["variants_on_validation"])

    image = load_image(sorted((data / "pituitary").iterdir())[0])
    members = [load_classifier(o / "card.json") for o in outs]
    combined = load_classifier(ens / "card.json")
    batch = combined.preprocess_batch([image])  # the same pixels reach every member: one card's preprocessing
    np.testing.assert_allclose(combined.backend(batch), np.mean([m.backend(batch) for m in members], 0), atol=1e-4)
    answer = combined.classify(image)
    assert answer["model"]["version"] == "e1" and abs(sum(answer["probabilities"].values()) - 1) < 1e-3


def test_the_cpu_is_the_default_device_and_cuda_is_refused_where_there_is_none(monkeypatch):
    """--device: cpu by default (the reproducible path); auto takes a GPU only where one is present;
    an explicit cuda without one is a clear error, never a silent fall-back to the CPU."""
    import torch

    from oculus.classify.finetune import parse_args, training_device

    assert parse_args(["data", "-o", "out"]).device == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device("cpu").type == training_device("auto").type == "cpu"
    with pytest.raises(SystemExit, match="no CUDA GPU is available"):
        training_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training_device("auto").type == training_device("cuda").type == "cuda"
    assert training_device("cpu").type == "cpu"
