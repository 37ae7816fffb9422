"""Brain-MRI slice classification (glioma / meningioma / no_tumor / pituitary).

Serving needs numpy, Pillow and onnxruntime only; TensorFlow is imported lazily for Keras
models and for training (``python -m oculus.classify.train``).
"""

from oculus.classify.card import ModelCard, load_card
from oculus.classify.registry import available_versions, card_path, default_version, load_version
from oculus.classify.runtime import Classifier, classify, default_classifier, load_classifier

__all__ = ["Classifier", "ModelCard", "available_versions", "card_path", "classify", "default_classifier",
           "default_version", "load_card", "load_classifier", "load_version"]
