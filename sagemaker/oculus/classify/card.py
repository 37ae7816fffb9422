"""The model card: the one description of a classifier that training writes and serving reads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oculus.classify.dataset import CLASSES
from oculus.errors import ModelError

REQUIRED = ("name", "version", "classes", "files", "preprocessing", "input")
FORMATS = {"onnx": (".onnx",), "keras": (".keras", ".h5")}


@dataclass
class ModelCard:
    path: Path
    data: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def classes(self) -> list[str]:
        return list(self.data["classes"])

    @property
    def preprocessing(self) -> dict[str, Any]:
        return self.data["preprocessing"]

    @property
    def temperature(self) -> float:
        return float(self.data.get("temperature", 1.0))

    @property
    def threshold(self) -> float:
        return float(self.data.get("confidence_threshold", 0.55))

    @property
    def no_tumor_threshold(self) -> float:
        """Calibrated no_tumor probability below which "no tumour" becomes "needs review"
        (cards without one fall back to the confidence threshold)."""
        return float(self.data.get("no_tumor_threshold", self.threshold))

    @property
    def ood_file(self) -> Path | None:
        """The out-of-distribution reference named by the card's ``ood`` block, if any."""
        name = (self.data.get("ood") or {}).get("file")
        return (self.path.parent / name).resolve() if name else None

    @property
    def output_kind(self) -> str:
        return self.data.get("output", {}).get("kind", "logits")

    def model_file(self, fmt: str | None = None) -> tuple[str, Path]:
        """(format, path) of the model file to serve: the requested format or the card's default."""
        files = self.data["files"]
        fmt = fmt or self.data.get("default_format") or next(iter(files))
        if fmt not in files:
            raise ModelError(f"model card {self.path.name} lists no {fmt!r} model (has {sorted(files)})",
                             code="model_format_unavailable")
        path = (self.path.parent / files[fmt]).resolve()
        if path.suffix.lower() not in FORMATS.get(fmt, ()):
            raise ModelError(f"{fmt} model must end in {FORMATS.get(fmt)}, got {path.name}", code="model_card_invalid")
        if not path.is_file():
            raise ModelError(f"model file {path.name} named by {self.path.name} does not exist", code="model_missing")
        for weights in self._external_data(fmt, path):
            if not weights.is_file():
                raise ModelError(f"model weights {weights.name} named by {self.path.name} do not exist",
                                 code="model_missing")
        return fmt, path

    def _external_data(self, fmt: str, model: Path) -> list[Path]:
        # where onnxruntime reads them: beside the model file
        return [model.parent / name for name in self.data.get("external_data", {}).get(fmt, [])]

    def model_files(self, fmt: str | None = None) -> list[Path]:
        """Every file the model needs: the model file, then the weight files an ONNX graph keeps
        beside it (``external_data``: an ensemble's members, one file each)."""
        fmt, path = self.model_file(fmt)
        return [path, *self._external_data(fmt, path)]


def read_model_json(path: Path, what: str) -> Any:
    """A model folder's JSON file (``what``: "model card", "model index"), or a ModelError
    saying it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"{what} not found: {path}", code="model_missing") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{what} {path.name} is unreadable: {exc}", code="model_card_invalid") from exc


def load_card(path: Path | str) -> ModelCard:
    """Read and validate a model card (the shipped ones: ``oculus.classify.registry``)."""
    path = Path(path)
    data = read_model_json(path, "model card")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ModelError(f"model card {path.name} lacks {missing}", code="model_card_invalid")
    if sorted(data["classes"]) != sorted(CLASSES):
        raise ModelError(f"model card classes {data['classes']} are not {list(CLASSES)}", code="model_card_invalid")
    pre = data["preprocessing"]
    if pre.get("color_mode") not in ("grayscale", "rgb") or "scale" not in pre or "size" not in pre:
        raise ModelError(f"model card {path.name} has incomplete preprocessing {pre}", code="model_card_invalid")
    return ModelCard(path.resolve(), data)
