"""The training command end to end on a tiny subset of the real data (one short epoch)."""

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

pytestmark = [
    pytest.mark.slow,
    pytest.mark.tensorflow,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]
SAGEMAKER = Path(__file__).resolve().parents[3] / "sagemaker"


@pytest.fixture
def env() -> dict:
    """The training and ensemble commands' environment: this checkout's engine first."""
    return {**os.environ, "PYTHONPATH": f"{SAGEMAKER}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_train_command_writes_a_loadable_card_and_onnx(shared_data, tmp_path, env):
    data = shared_data / "brain-mri" / "Training"
    out = tmp_path / "model"
    proc = subprocess.run(
        [sys.executable, "-m", "oculus.classify.train", str(data), "-o", str(out),
         "--epochs", "1", "--image-size", "32", "--limit-per-class", "8", "--seed", "1337"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {"card.json", "model.onnx", "model.keras", "checkpoint_last.keras", "checkpoint_best.keras",
            "checkpoint_state.json"} <= {p.name for p in out.iterdir()}

    card = json.loads((out / "card.json").read_text())
    split = card["training_data"]["split"]
    assert card["training_data"]["images"] == 32 and split["train"] + split["validation"] + split["final_test"] == 32
    assert {"train", "validation", "final_test"} == set(split["counts"])
    assert card["training_data"]["per_class"] == {"glioma": 8, "meningioma": 8, "no_tumor": 8, "pituitary": 8}
    assert card["input"]["shape"] == [32, 32, 1] and card["preprocessing"]["size"] == [32, 32]
    assert card["onnx_export_max_abs_diff"] < 1e-3
    assert card["temperature"] > 0 and "--limit-per-class 8" in card["command"]
    assert np.array(card["validation"]["confusion_matrix"]).sum() == split["validation"]

    clf = load_classifier(out / "card.json")
    image = load_image(sorted((data / "glioma").iterdir())[0])
    answer = clf.classify(image)
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-3
    assert answer["model"]["name"] == card["name"]


def test_two_init_seeds_share_the_split_and_ensemble_into_one_model(shared_data, tmp_path, env):
    """--init-seed changes only init/shuffle/augmentation; the ensemble command combines the runs
    (with flip TTA) into one card + one ONNX + one Keras file that the runtime loads unchanged."""
    data = shared_data / "brain-mri" / "Training"
    outs = [tmp_path / "a", tmp_path / "b"]
    for out, init in zip(outs, ("1", "2"), strict=True):
        proc = subprocess.run(
            [sys.executable, "-m", "oculus.classify.train", str(data), "-o", str(out), "--epochs", "1",
             "--image-size", "32", "--limit-per-class", "8", "--init-seed", init],
            capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = (json.loads((o / "card.json").read_text()) for o in outs)
    assert a["training_data"]["split"] == b["training_data"]["split"]
    assert (a["training"]["init_seed"], b["training"]["init_seed"]) == (1, 2)

    ens = tmp_path / "ens"
    proc = subprocess.run(
        [sys.executable, "-m", "oculus.classify.ensemble", str(data), "-o", str(ens), "--limit-per-class", "8",
         "--member", str(outs[0]), "--member", str(outs[1])],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = json.loads((ens / "card.json").read_text())
    assert card["ensemble"]["tta"] == "horizontal flip" and len(card["ensemble"]["members"]) == 2
    assert {"ensemble", "ensemble + flip TTA"} <= set(card["ensemble"]["variants_on_validation"])
    assert card["onnx_export_max_abs_diff"] < 1e-3
    assert np.array(card["validation"]["confusion_matrix"]).sum() == card["training_data"]["split"]["validation"]
    image = load_image(sorted((data / "glioma").iterdir())[0])
    p_onnx = load_classifier(ens / "card.json").probabilities([image])
    p_keras = load_classifier(ens / "card.json", fmt="keras").probabilities([image])
    assert np.max(np.abs(p_onnx - p_keras)) < 1e-4


def test_a_paused_run_resumes_from_its_checkpoint_and_records_one_recipe(shared_data, tmp_path, env):
    """--session-epochs 1 stops after the first epoch's checkpoint; the same command with --resume
    continues with the saved optimizer state and writes one card with the whole history."""
    data = shared_data / "brain-mri" / "Training"
    out = tmp_path / "model"
    recipe = [sys.executable, "-m", "oculus.classify.train", str(data), "-o", str(out), "--epochs", "2",
              "--image-size", "32", "--limit-per-class", "8", "--patience", "5"]
    first = subprocess.run([*recipe, "--session-epochs", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "paused after epoch 1 of 2" in first.stdout and not (out / "card.json").exists()
    state = json.loads((out / "checkpoint_state.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]["val_accuracy"]) == 1

    again = subprocess.run(recipe, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode != 0 and "--resume" in again.stderr  # never silently restarts over a checkpoint
    changed = subprocess.run([*recipe[:-1], "6", "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert changed.returncode != 0 and "recipe differs" in changed.stderr

    # the same folder spelled another way is the same recipe
    respelled = [*recipe[:3], str(data.parent / ".." / data.parent.name / data.name), *recipe[4:]]
    resumed = subprocess.run([*respelled, "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming after epoch 1" in resumed.stdout
    card = json.loads((out / "card.json").read_text())
    history = card["training"]["history"]
    assert card["training"]["epochs_run"] == 2 and len(history["val_accuracy"]) == 2
    assert [s["from_epoch"] for s in card["training"]["sessions"]] == [0, 1]
    assert "--resume" not in card["command"] and "--epochs 2" in card["command"]


def test_a_final_fit_repeats_the_selection_runs_epochs_on_train_and_validation(shared_data, tmp_path, env):
    """--final-fit-from: same recipe, trained on train + validation for the selection run's best
    epoch count (not --epochs), no early stopping, the selection run's temperature and validation
    numbers; it pauses and resumes like any run, and refuses another recipe or an unfinished run."""
    data = shared_data / "brain-mri" / "Training"
    train = [sys.executable, "-m", "oculus.classify.train"]
    recipe = [str(data), "--epochs", "3", "--image-size", "32", "--limit-per-class", "8", "--patience", "1"]
    select, final = tmp_path / "select", tmp_path / "final"
    proc = subprocess.run([*train, *recipe, "-o", str(select)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    chosen = json.loads((select / "card.json").read_text())
    # the selection run's best epoch is whatever training gave; pin it to 2 of 3 so the final fit
    # must stop before --epochs
    state_path = select / "checkpoint_state.json"
    state = json.loads(state_path.read_text())
    state_path.write_text(json.dumps({**state, "best_epoch": 2}))

    other = subprocess.run([*train, *recipe[:-1], "2", "-o", str(final), "--final-fit-from", str(select)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert other.returncode != 0 and "recipe differs" in other.stderr  # a final fit of another recipe
    unfinished = json.loads(state_path.read_text())
    state_path.write_text(json.dumps({**unfinished, "epoch": 1, "stopped_early": False}))
    early = subprocess.run([*train, *recipe, "-o", str(final), "--final-fit-from", str(select)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert early.returncode != 0 and "not finished" in early.stderr
    state_path.write_text(json.dumps(unfinished))

    command = [*train, *recipe, "-o", str(final), "--final-fit-from", str(select)]
    first = subprocess.run([*command, "--session-epochs", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "paused after epoch 1 of 2" in first.stdout and not (final / "card.json").exists()
    packaged = subprocess.run([*command, "--finalize-from", str(final / "checkpoint_last.keras")],
                              capture_output=True, text=True, env=env, timeout=300)
    assert packaged.returncode == 0, packaged.stderr[-3000:]
    status = json.loads((final / "card.json").read_text())["training"]["status"]
    assert status.startswith("partial: final fit stopped after epoch 1 of 2"), status
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    card = json.loads((final / "card.json").read_text())
    split = card["training_data"]["split"]
    fit = card["training"]["final_fit"]
    assert fit["images"] == split["train"] + split["validation"] and fit["epochs"] == 2
    assert card["training"]["epochs_run"] == 2 and len(card["training"]["history"]["loss"]) == 2
    assert card["training"]["status"] == "complete: final fit, 2 epochs on train + validation"
    assert [s["from_epoch"] for s in card["training"]["sessions"]] == [0, 1]
    assert "val_accuracy" not in card["training"]["history"]  # nothing held out while fitting
    assert card["temperature"] == chosen["temperature"]
    assert card["validation"]["accuracy"] == chosen["validation"]["accuracy"] and "selection run" in card["validation"]["note"]
    assert f"--final-fit-from {select}" in card["command"] and "--resume" not in card["command"]
    image = load_image(sorted((data / "glioma").iterdir())[0])
    assert np.isfinite(load_classifier(final / "card.json").probabilities([image])).all()
