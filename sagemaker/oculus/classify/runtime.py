"""Serving the tumour classifier: ONNX through onnxruntime, Keras through TensorFlow, one card.

TensorFlow is imported only when a Keras model is asked for (it costs ~3 s and >1 GB).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from oculus.classify.calibration import NEEDS_REVIEW, NO_TUMOR, softmax, verdicts
from oculus.classify.card import ModelCard, load_card
from oculus.classify.ood import REASONS as OOD_REASONS
from oculus.classify.ood import OodReference, load_reference
from oculus.classify.preprocess import preprocess
from oculus.classify.registry import card_facts, load_version, version_card
from oculus.errors import InputError, ModelError

RESEARCH_ONLY = "Research use only: this is not a diagnosis and must not guide treatment."
INCONCLUSIVE = "inconclusive"
READABLE = {"glioma": "a glioma", "meningioma": "a meningioma", "pituitary": "a pituitary tumour",
            "no_tumor": "no tumour"}


class OnnxBackend:
    format = "onnx"

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"cannot load ONNX model {path.name}: {exc}", code="model_load_failed") from exc
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


class KerasBackend:
    format = "keras"

    def __init__(self, path: Path) -> None:
        import keras  # lazy: TensorFlow only when a Keras model is served

        self._to_numpy = keras.ops.convert_to_numpy
        try:
            self.model = keras.models.load_model(path, compile=False)
        except Exception as exc:
            raise ModelError(f"cannot load Keras model {path.name}: {exc}", code="model_load_failed") from exc

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        # Direct call, not model.predict: predict builds a tf.data pipeline per call (slow for 1 image).
        return self._to_numpy(self.model(batch, training=False))


def percent(p: float) -> str:
    """A model's probability for people, one decimal; never rounded up to a certain 100 % or down to
    0 %. (Thresholds are settings, printed exactly.)"""
    if p >= 0.9995:
        return "> 99.9%"
    if p < 0.0005:
        return "< 0.1%"
    return f"{p:.1%}"


def recommendation(verdict: str, top2: list[dict[str, Any]], reason: str | None = None) -> str:
    """Plain-language advice for the person who uploaded the image, by verdict."""
    (first, p1), (second, p2) = ((t["class"], t["probability"]) for t in top2)
    if verdict == INCONCLUSIVE:
        return (f"Inconclusive: {reason} Please upload a single brain MRI slice, and have a radiologist review "
                f"the scan. {RESEARCH_ONLY}")
    if verdict == NEEDS_REVIEW:
        return (f"Uncertain — needs review: the model cannot tell confidently; its top two answers are "
                f"{READABLE[first]} ({percent(p1)}) and {READABLE[second]} ({percent(p2)}). This result must not be relied "
                f"on: please have a radiologist review the scan. {RESEARCH_ONLY}")
    if verdict == NO_TUMOR:
        return (f"The model found no sign of a glioma, meningioma or pituitary tumour ({percent(p1)} confidence). This "
                f"does not rule out other conditions; discuss any symptoms with a doctor. {RESEARCH_ONLY}")
    return (f"The model found features most consistent with {READABLE[first]} ({percent(p1)} confidence). Please have "
            f"a radiologist or neurologist review the scan. {RESEARCH_ONLY}")


def review_reason(verdict: str, top2: list[dict[str, Any]], card: ModelCard) -> str | None:
    if verdict != NEEDS_REVIEW:
        return None
    p1 = top2[0]["probability"]
    if p1 < card.threshold:
        return f"The model is only {percent(p1)} confident, below its {card.threshold * 100:g}% threshold."
    return (f"'No tumour' is stated only above {card.no_tumor_threshold * 100:g}% calibrated confidence, so that at most "
            f"1 % of tumour images get it; this image scored {percent(p1)}.")


class Classifier:
    """A loaded model plus its card. ``predict`` is batched; ``classify`` is one image."""

    def __init__(self, card: ModelCard, backend: OnnxBackend | KerasBackend, model_path: Path) -> None:
        self.card = card
        self.backend = backend
        self.model_path = model_path

    def preprocess_batch(self, images: list[np.ndarray]) -> np.ndarray:
        return np.stack([preprocess(img, self.card.preprocessing) for img in images]).astype(np.float32)

    def probabilities(self, images: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """Calibrated class probabilities, shape (N, classes) in the card's class order."""
        if not images:
            raise InputError("no images to classify", code="invalid_image")
        out = []
        for start in range(0, len(images), batch_size):
            raw = self.backend(self.preprocess_batch(images[start:start + batch_size]))
            if raw.ndim != 2 or raw.shape[1] != len(self.card.classes):
                raise ModelError(f"model output shape {raw.shape} does not match {len(self.card.classes)} classes",
                                 code="model_output_invalid")
            out.append(softmax(raw, self.card.temperature) if self.card.output_kind == "logits" else raw)
        return np.concatenate(out)

    def answer(self, probs: np.ndarray, ood_reason: str | None = None) -> dict[str, Any]:
        """The answer contract for one image's calibrated probabilities; `ood_reason` (a key of
        oculus.classify.ood.REASONS) marks an image that is not a brain MRI slice."""
        classes = self.card.classes
        order = np.argsort(probs)[::-1]
        predicted, confidence = classes[int(order[0])], float(probs[order[0]])
        top2 = [{"class": classes[int(j)], "probability": round(float(probs[j]), 4)} for j in order[:2]]
        if ood_reason is not None:
            verdict, reason = INCONCLUSIVE, OOD_REASONS[ood_reason]
        else:
            verdict = str(verdicts(probs, classes, self.card.threshold, self.card.no_tumor_threshold)[0])
            reason = review_reason(verdict, top2, self.card)
        return {
            "is_tumor": predicted != "no_tumor",
            "predicted_class": predicted,
            "confidence": round(confidence, 4),
            "probabilities": {c: round(float(p), 4) for c, p in zip(classes, probs, strict=True)},
            "recommendation": recommendation(verdict, top2, reason),
            "inconclusive": verdict in (NEEDS_REVIEW, INCONCLUSIVE),
            "verdict": verdict,
            "reason": reason,
            "top2": top2,
            "model": {"name": self.card.name, "version": self.card.version},
        }

    @cached_property
    def ood_reference(self) -> OodReference | None:
        """The card's out-of-distribution reference; None when the card names none (then no
        image is refused as out of distribution)."""
        path = self.card.ood_file
        return load_reference(path) if path is not None else None

    def out_of_distribution(self, image: np.ndarray) -> str | None:
        ref = self.ood_reference
        return ref.check(image)[0] if ref is not None else None

    def predict(self, images: list[np.ndarray]) -> list[dict[str, Any]]:
        probs = self.probabilities(images)
        return [self.answer(p, self.out_of_distribution(img)) for p, img in zip(probs, images, strict=True)]

    def classify(self, image: np.ndarray) -> dict[str, Any]:
        return self.predict([image])[0]

    def model_info(self) -> dict[str, Any]:
        """What GET /model-info reports: the card's key facts and the format served."""
        return {**card_facts(self.card), "format": self.backend.format}


def load_classifier(card_path: Path | str | None = None, fmt: str | None = None, *,
                    version: str | None = None, models_dir: Path | str | None = None) -> Classifier:
    """Load the model a card describes, in `fmt` or the card's default format.

    Without a card: the served ``version`` of ``models_dir`` (oculus.classify.registry; default:
    the shipped models and their default version), not cached. ``registry.load_version`` caches.
    """
    if card_path is not None:
        card = load_card(card_path)
    else:
        card = version_card(version, models_dir)
    fmt, path = card.model_file(fmt)
    backend = OnnxBackend(path) if fmt == "onnx" else KerasBackend(path)
    return Classifier(card, backend, path)


def default_classifier() -> Classifier:
    """The default version of the shipped models, loaded once per process."""
    return load_version()


def classify(image: np.ndarray, classifier: Classifier | None = None) -> dict[str, Any]:
    return (classifier or default_classifier()).classify(image)
