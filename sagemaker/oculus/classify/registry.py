"""The classifier versions the engine serves, side by side.

A models folder (default: the shipped ``oculus/models/brain_tumor``) holds one sub-folder per
version (``v1/``, ``v2/``, ...: card.json plus its model files) and ``versions.json``::

    {"default": "v2", "versions": ["v1", "v2"]}

``OCULUS_CLASSIFIER_MODELS`` points a server at another models folder. A version is served only
once the index names it, so a folder still being written is never
picked up half-done. The version key is what every answer reports as ``model.version``; the
card's own ``version`` stamp is kept as ``release``.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oculus.classify.card import ModelCard, load_card, read_model_json
from oculus.errors import InputError, ModelError
from oculus.options import MODEL_VERSION_PATTERN

if TYPE_CHECKING:
    from oculus.classify.runtime import Classifier

MODELS_DIR = Path(__file__).resolve().parents[1] / "models" / "brain_tumor"
INDEX_FILE = "versions.json"
_VERSION = re.compile(MODEL_VERSION_PATTERN)


def _folder(models_dir: Path | str | None) -> Path:
    # OCULUS_CLASSIFIER_MODELS: another models folder for a whole server (its job processes inherit it)
    chosen = models_dir if models_dir is not None else os.environ.get("OCULUS_CLASSIFIER_MODELS") or MODELS_DIR
    return Path(chosen).resolve()


def read_index(models_dir: Path | str | None = None) -> dict[str, Any]:
    """The validated ``versions.json``: ``{"default": key, "versions": [keys]}``."""
    path = _folder(models_dir) / INDEX_FILE
    index = read_model_json(path, "model index")
    versions = index.get("versions")
    if not isinstance(versions, list) or not versions or not all(
            isinstance(v, str) and _VERSION.match(v) for v in versions) or len(set(versions)) != len(versions):
        raise ModelError(f"{path.name} must list distinct version keys, got {versions!r}", code="model_card_invalid")
    if index.get("default") not in versions:
        raise ModelError(f"{path.name} names default {index.get('default')!r}, not one of {versions}",
                         code="model_card_invalid")
    return {"default": index["default"], "versions": list(versions)}


def available_versions(models_dir: Path | str | None = None) -> list[str]:
    return read_index(models_dir)["versions"]


def default_version(models_dir: Path | str | None = None) -> str:
    return read_index(models_dir)["default"]


def resolve_version(version: str | None, models_dir: Path | str | None = None) -> str:
    """The version key to serve: ``version`` if the index lists it, the default when None.

    An unknown key is the caller's mistake (``unknown_model_version``, a 4xx) and names the
    versions there are.
    """
    index = read_index(models_dir)
    if version is None:
        return index["default"]
    if version not in index["versions"]:
        raise InputError(f"unknown model version {version!r}; available: {', '.join(index['versions'])} "
                         f"(default {index['default']})", code="unknown_model_version")
    return version


def card_path(version: str | None = None, models_dir: Path | str | None = None) -> Path:
    """Where the card of a served version (default: the default version) lies."""
    return _folder(models_dir) / resolve_version(version, models_dir) / "card.json"


def version_card(version: str | None = None, models_dir: Path | str | None = None) -> ModelCard:
    """The card of one version, its ``version`` set to the version key it is served under."""
    key = resolve_version(version, models_dir)
    card = load_card(_folder(models_dir) / key / "card.json")
    return ModelCard(card.path, {**card.data, "version": key, "release": card.data["version"]})


def card_facts(card: ModelCard) -> dict[str, Any]:
    """The key facts of a card that ``GET /model-info`` reports (no model file is loaded)."""
    d = card.data
    return {
        "name": card.name,
        "version": card.version,
        "release": d.get("release", card.version),
        "task": d.get("task", "brain-mri-tumor-classification"),
        "classes": card.classes,
        "input": {**d["input"], "preprocessing": d["preprocessing"].get("description", d["preprocessing"])},
        "architecture": d.get("architecture", {}).get("name"),
        "confidence_threshold": card.threshold,
        "no_tumor_threshold": d.get("no_tumor_threshold"),
        "ood": d.get("ood"),
        "measured": _measured(d.get("validation", {}), "validation split of the selection run whose recipe, epoch "
                              "count and temperature this final fit repeats (it trained on that split)"
                              if d.get("training", {}).get("final_fit") else
                              "own near-duplicate-safe validation split of the Training folder (picks epochs and "
                              "temperature)"),
        "measured_final_test": _measured(d["final_test"], "final test split nothing was tuned on")
        if isinstance(d.get("final_test"), dict) else None,
        "calibration": {"temperature": card.temperature,
                        **{k: v for k, v in d.get("validation", {}).get("calibration", {}).items()
                           if k in ("ece_before", "ece_after")}},
        "trained": d.get("date"),
        "code_version": d.get("code_version"),
        "intended_use": d.get("intended_use", "research use only"),
    }


def _measured(split: dict[str, Any], what: str) -> dict[str, Any]:
    return {"split": what, "n": split.get("n"), "accuracy": split.get("accuracy"),
            "recall": {c: m.get("recall") for c, m in split.get("per_class", {}).items()}}


def catalogue(models_dir: Path | str | None = None) -> dict[str, Any]:
    """Every version served, each with its card's key facts, and the default (no model loaded)."""
    index = read_index(models_dir)
    return {"default": index["default"],
            "versions": [card_facts(version_card(v, models_dir)) for v in index["versions"]]}


def load_version(version: str | None = None, models_dir: Path | str | None = None,
                 fmt: str | None = None) -> Classifier:
    """The classifier of one version (default: the index's default), loaded once per process."""
    folder = _folder(models_dir)
    return _load(resolve_version(version, folder), folder, fmt)


@lru_cache(maxsize=8)
def _load(version: str, folder: Path, fmt: str | None) -> Classifier:
    from oculus.classify.runtime import load_classifier

    return load_classifier(fmt=fmt, version=version, models_dir=folder)
