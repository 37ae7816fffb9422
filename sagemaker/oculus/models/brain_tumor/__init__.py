"""The shipped brain-tumour classifier: card.json, model.onnx, model.keras (see docs/model-card.md)."""
