"""Brain-MRI slice classification (glioma / meningioma / no_tumor / pituitary).

Serving needs numpy, Pillow and onnxruntime only; TensorFlow is imported lazily for Keras
models and for training (``python -m oculus.classify.train``).
"""

from oculus.classify.card import DEFAULT_CARD, ModelCard, load_card
from oculus.classify.runtime import Classifier, classify, default_classifier, load_classifier

__all__ = ["DEFAULT_CARD", "Classifier", "ModelCard", "classify", "default_classifier", "load_card", "load_classifier"]
