"""Temperature scaling and the validation metrics written into the model card."""

from __future__ import annotations

import numpy as np

from oculus.classify.calibration import (
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    softmax,
)


def _sample(true_t: float, n: int = 20000, seed: int = 0):
    """Labels drawn from softmax(z / true_t): the NLL-optimal temperature is true_t."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 4, size=(n, 4))
    p = softmax(z, true_t)
    labels = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return z, labels


def test_fit_temperature_recovers_the_generating_temperature():
    z, y = _sample(2.5)
    assert abs(fit_temperature(z, y) - 2.5) < 0.15


def test_temperature_scaling_reduces_ece_of_overconfident_logits():
    z, y = _sample(3.0)
    before = expected_calibration_error(softmax(z), y)
    after = expected_calibration_error(softmax(z, fit_temperature(z, y)), y)
    assert before > 0.1 and after < 0.03


def test_softmax_rows_sum_to_one_and_survive_large_logits():
    p = softmax(np.array([[1000.0, 0.0, -1000.0, 5.0]]))
    assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-12


def test_metrics_match_a_hand_counted_example():
    y = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    pred = np.array([0, 0, 1, 1, 1, 2, 3, 0])
    m = classification_metrics(y, pred, ("a", "b", "c", "d"))
    assert m["accuracy"] == 0.75
    assert m["confusion_matrix"][0] == [2, 1, 0, 0]
    assert m["per_class"]["a"] == {"precision": round(2 / 3, 4), "recall": round(2 / 3, 4), "f1": round(2 / 3, 4), "support": 3}
    assert m["per_class"]["d"]["recall"] == 0.5 and m["per_class"]["d"]["precision"] == 1.0
