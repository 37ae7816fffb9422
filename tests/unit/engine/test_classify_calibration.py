"""Temperature scaling and the validation metrics written into the model card."""

from __future__ import annotations

import numpy as np

from oculus.classify.calibration import (
    choose_no_tumor_threshold,
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    miss_rate_upper_bound,
    safety_report,
    softmax,
    verdicts,
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


CLASSES = ("glioma", "meningioma", "no_tumor", "pituitary")


def test_verdicts_follow_both_thresholds():
    probs = np.array([[0.90, 0.05, 0.03, 0.02],   # confident tumour
                      [0.40, 0.35, 0.20, 0.05],   # below the confidence threshold
                      [0.05, 0.25, 0.70, 0.00],   # no_tumor, but below the no_tumor threshold
                      [0.01, 0.01, 0.97, 0.01]])  # confident no_tumor
    assert verdicts(probs, CLASSES, 0.55, 0.9).tolist() == ["tumor", "needs_review", "needs_review", "no_tumor"]
    assert verdicts(probs, CLASSES, 0.55, 0.55).tolist() == ["tumor", "needs_review", "no_tumor", "no_tumor"]


def _tumour_images_said_no(p_no: list[float], n_tumour: int = 400):
    """n_tumour tumour images; the first ones are predicted no_tumor with the given probabilities."""
    probs = np.tile([0.9, 0.05, 0.03, 0.02], (n_tumour, 1))
    for i, p in enumerate(p_no):
        probs[i] = [1 - p, 0.0, p, 0.0]
    return probs, np.zeros(n_tumour, dtype=int)


def test_no_tumor_threshold_excludes_misses_until_the_upper_bound_is_within_the_limit():
    probs, labels = _tumour_images_said_no([0.97, 0.81, 0.66])
    # 400 tumour images: even one miss has a 95 % upper bound above 1 %, so every miss is excluded
    thr = choose_no_tumor_threshold(probs, labels, CLASSES, 0.55)
    assert thr == 0.9701
    assert safety_report(probs, labels, CLASSES, 0.55, thr)["tumour_missed"] == 0
    # the plain point-estimate rule tolerates floor(1 % of 400) = 4 misses
    assert choose_no_tumor_threshold(probs, labels, CLASSES, 0.55, confidence=None) == 0.55
    # with 1000 tumour images the bound tolerates a few misses: only the worst ones are excluded
    probs, labels = _tumour_images_said_no([0.97, 0.81, 0.66, 0.6, 0.58, 0.57, 0.565, 0.56], 1000)
    thr = choose_no_tumor_threshold(probs, labels, CLASSES, 0.55)
    missed = safety_report(probs, labels, CLASSES, 0.55, thr)["tumour_missed"]
    tolerated = max(k for k in range(9) if miss_rate_upper_bound(k, 1000) <= 0.01)
    assert 0 < missed == tolerated < 8


def test_miss_rate_upper_bound_matches_the_rule_of_three():
    assert abs(miss_rate_upper_bound(0, 300) - 3 / 300) < 5e-4
    assert miss_rate_upper_bound(5, 5) == 1.0


def test_metrics_agree_with_scikit_learn_on_random_predictions():
    """The card's metrics against an independent implementation, absent classes included."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(7)
    for trial in range(20):
        labels = rng.integers(0, 4, size=300)
        preds = np.where(rng.random(300) < 0.7, labels, rng.integers(0, 4, size=300))
        if trial % 5 == 0:  # a class never predicted: its precision is 0, as sklearn's zero_division=0
            preds[preds == 2] = 1
        ours = classification_metrics(labels, preds, CLASSES)
        assert ours["accuracy"] == round(accuracy_score(labels, preds), 4)
        assert ours["confusion_matrix"] == confusion_matrix(labels, preds, labels=range(4)).tolist()
        p, r, f, s = precision_recall_fscore_support(labels, preds, labels=range(4), zero_division=0)
        for i, name in enumerate(CLASSES):
            row = ours["per_class"][name]
            assert (row["precision"], row["recall"], row["f1"], row["support"]) == (
                round(p[i], 4), round(r[i], 4), round(f[i], 4), s[i])


def test_ece_agrees_with_scipys_binned_sums():
    """Top-label ECE = sum over equal-width confidence bins of |correct - confidence| / N."""
    from scipy.stats import binned_statistic

    rng = np.random.default_rng(3)
    probs = softmax(rng.normal(0, 2.5, size=(5000, 4)), 1.0)
    labels = rng.integers(0, 4, size=5000)
    conf = probs.max(axis=1)
    gap = (probs.argmax(axis=1) == labels) - conf
    sums, _, _ = binned_statistic(conf, gap, statistic="sum", bins=15, range=(0.0, 1.0))
    assert abs(expected_calibration_error(probs, labels) - np.abs(sums).sum() / len(labels)) < 1e-12


def test_miss_rate_upper_bound_is_scipys_exact_binomial_interval():
    """One-sided 95 % Clopper-Pearson = the upper end of the two-sided 90 % exact interval."""
    from scipy.stats import binomtest

    for missed, n in ((0, 400), (1, 400), (4, 400), (3, 50), (17, 1311)):
        exact = binomtest(missed, n).proportion_ci(confidence_level=0.90, method="exact").high
        assert abs(miss_rate_upper_bound(missed, n) - exact) < 1e-12
