"""Serving the tumour classifier: ONNX through onnxruntime, Keras through TensorFlow, one card.

TensorFlow is imported only when a Keras model is asked for (it costs ~3 s and >1 GB).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from oculus.classify.calibration import softmax
from oculus.classify.card import ModelCard, load_card
from oculus.classify.preprocess import preprocess
from oculus.errors import InputError, ModelError

RESEARCH_ONLY = "Research use only: this is not a diagnosis and must not guide treatment."
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


def recommendation(predicted: str, confidence: float, inconclusive: bool, threshold: float) -> str:
    """Plain-language advice for the person who uploaded the image."""
    pct = f"{confidence:.0%}"
    if inconclusive:
        return (f"Inconclusive: the model is only {pct} confident (below its {threshold:.0%} threshold), so this "
                f"result should not be relied on. Please have a radiologist review the scan. {RESEARCH_ONLY}")
    if predicted == "no_tumor":
        return (f"The model found no sign of a glioma, meningioma or pituitary tumour ({pct} confidence). This does "
                f"not rule out other conditions; discuss any symptoms with a doctor. {RESEARCH_ONLY}")
    return (f"The model found features most consistent with {READABLE[predicted]} ({pct} confidence). Please have "
            f"a radiologist or neurologist review the scan. {RESEARCH_ONLY}")


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

    def answer(self, probs: np.ndarray) -> dict[str, Any]:
        classes = self.card.classes
        i = int(np.argmax(probs))
        predicted, confidence = classes[i], float(probs[i])
        inconclusive = confidence < self.card.threshold
        return {
            "is_tumor": predicted != "no_tumor",
            "predicted_class": predicted,
            "confidence": round(confidence, 4),
            "probabilities": {c: round(float(p), 4) for c, p in zip(classes, probs, strict=True)},
            "recommendation": recommendation(predicted, confidence, inconclusive, self.card.threshold),
            "inconclusive": inconclusive,
            "model": {"name": self.card.name, "version": self.card.version},
        }

    def predict(self, images: list[np.ndarray]) -> list[dict[str, Any]]:
        return [self.answer(p) for p in self.probabilities(images)]

    def classify(self, image: np.ndarray) -> dict[str, Any]:
        return self.predict([image])[0]

    def model_info(self) -> dict[str, Any]:
        """What GET /model-info reports."""
        d = self.card.data
        val = d.get("validation", {})
        return {
            "name": self.card.name,
            "version": self.card.version,
            "task": d.get("task", "brain-mri-tumor-classification"),
            "format": self.backend.format,
            "classes": self.card.classes,
            "input": {**d["input"], "preprocessing": d["preprocessing"].get("description", d["preprocessing"])},
            "architecture": d.get("architecture", {}).get("name"),
            "confidence_threshold": self.card.threshold,
            "measured": {"split": "own near-duplicate-safe validation split of the Training folder",
                         "n": val.get("n"), "accuracy": val.get("accuracy"),
                         "recall": {c: m["recall"] for c, m in val.get("per_class", {}).items()}},
            "calibration": {"temperature": self.card.temperature, **{k: v for k, v in val.get("calibration", {}).items()
                                                                    if k in ("ece_before", "ece_after")}},
            "trained": d.get("date"),
            "code_version": d.get("code_version"),
            "intended_use": d.get("intended_use", "research use only"),
        }


def load_classifier(card_path: Path | str | None = None, fmt: str | None = None) -> Classifier:
    """Load the model a card describes (default: the shipped model), in `fmt` or the card's default format."""
    card = load_card(card_path)
    fmt, path = card.model_file(fmt)
    backend = OnnxBackend(path) if fmt == "onnx" else KerasBackend(path)
    return Classifier(card, backend, path)


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    """The shipped model, loaded once per process."""
    return load_classifier()


def classify(image: np.ndarray, classifier: Classifier | None = None) -> dict[str, Any]:
    return (classifier or default_classifier()).classify(image)
