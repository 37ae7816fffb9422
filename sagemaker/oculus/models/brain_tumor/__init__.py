"""The shipped brain-tumour classifiers, one folder per version (card.json, model.onnx,
model.keras); versions.json lists the versions served and names the default (see
oculus.classify.registry and docs/model-card.md)."""
