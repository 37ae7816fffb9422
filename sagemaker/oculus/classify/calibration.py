"""Softmax with temperature, temperature fitting and calibration / accuracy metrics (numpy only)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising validation NLL (Guo et al. 2017), searched over log T."""
    res = minimize_scalar(lambda lt: nll(logits, labels, float(np.exp(lt))), bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(res.x))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def classification_metrics(labels: np.ndarray, preds: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Accuracy, confusion matrix (rows = true, columns = predicted) and per-class P/R/F1."""
    k = len(classes)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (labels, preds), 1)
    per_class = {}
    for i, name in enumerate(classes):
        tp = cm[i, i]
        precision = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        recall = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
                           "f1": round(float(f1), 4), "support": int(cm[i, :].sum())}
    return {"accuracy": round(float(np.trace(cm) / cm.sum()), 4), "n": int(cm.sum()),
            "per_class": per_class, "confusion_matrix": cm.tolist()}


#: Verdicts of the answer contract, decided from calibrated probabilities alone (the
#: out-of-distribution verdict "inconclusive" is decided before, on the image).
TUMOR, NO_TUMOR, NEEDS_REVIEW = "tumor", "no_tumor", "needs_review"


def verdicts(probs: np.ndarray, classes: list[str] | tuple[str, ...], confidence_threshold: float,
             no_tumor_threshold: float) -> np.ndarray:
    """Verdict per row: needs_review below the confidence threshold, or when no_tumor wins
    with less than no_tumor_threshold; otherwise tumor / no_tumor."""
    probs = np.atleast_2d(probs)
    nt = list(classes).index("no_tumor")
    top = probs.argmax(1)
    conf = probs.max(1)
    out = np.where(top == nt, NO_TUMOR, TUMOR).astype(object)
    review = (conf < confidence_threshold) | ((top == nt) & (probs[:, nt] < no_tumor_threshold))
    out[review] = NEEDS_REVIEW
    return out


def miss_rate_upper_bound(missed: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate observed as missed / n."""
    from scipy.stats import beta

    return 1.0 if missed >= n else float(beta.ppf(confidence, missed + 1, n - missed))


def choose_no_tumor_threshold(probs: np.ndarray, labels: np.ndarray, classes: list[str] | tuple[str, ...],
                              confidence_threshold: float, max_miss_rate: float = 0.01,
                              confidence: float | None = 0.95) -> float:
    """Smallest no_tumor probability (4 decimals) at which the share of tumour images answered
    "no tumour" is at most max_miss_rate with `confidence` (Clopper-Pearson upper bound), so a
    few hundred test images cannot make a lucky threshold look safe. confidence=None: the plain
    point-estimate rule (at most floor(max_miss_rate * n) misses)."""
    nt = list(classes).index("no_tumor")
    tumour = labels != nt
    n = int(tumour.sum())
    said_no = probs[tumour].argmax(1) == nt
    p = np.sort(probs[tumour][said_no, nt])[::-1]  # the tumour images a threshold must exclude, worst first
    if confidence is None:
        allowed = int(np.floor(max_miss_rate * n))
    else:
        allowed = 0  # misses the bound tolerates (none when the split is small)
        while allowed < len(p) and miss_rate_upper_bound(allowed + 1, n, confidence) <= max_miss_rate:
            allowed += 1
    if len(p) <= allowed:
        return round(float(confidence_threshold), 4)
    thr = np.ceil(p[allowed] * 1e4) / 1e4
    if thr <= p[allowed]:
        thr += 1e-4
    return round(float(min(max(thr, confidence_threshold), 1.0)), 4)


def safety_report(probs: np.ndarray, labels: np.ndarray, classes: list[str] | tuple[str, ...],
                  confidence_threshold: float, no_tumor_threshold: float) -> dict:
    """What the verdict rule does on a labelled set: tumour miss rate and share sent to review."""
    nt = list(classes).index("no_tumor")
    v = verdicts(probs, classes, confidence_threshold, no_tumor_threshold)
    tumour = labels != nt
    return {"n": int(len(labels)), "tumour_images": int(tumour.sum()),
            "tumour_miss_rate": round(float(np.mean(v[tumour] == NO_TUMOR)), 4),
            "tumour_missed": int(np.sum(v[tumour] == NO_TUMOR)),
            "tumour_miss_rate_upper_95": round(miss_rate_upper_bound(int(np.sum(v[tumour] == NO_TUMOR)),
                                                                     int(tumour.sum())), 4),
            "needs_review_share": round(float(np.mean(v == NEEDS_REVIEW)), 4),
            "no_tumor_images_answered_no_tumor": round(float(np.mean(v[~tumour] == NO_TUMOR)), 4)
            if (~tumour).any() else None,
            "confident_answer_accuracy": round(float(np.mean(probs.argmax(1)[v != NEEDS_REVIEW]
                                                             == labels[v != NEEDS_REVIEW])), 4)
            if (v != NEEDS_REVIEW).any() else None}
