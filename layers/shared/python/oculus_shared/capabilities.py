"""What the segmentation engine can run, as the engine itself published it.

The engine cannot be asked (SageMaker async has no synchronous call, and the endpoint scales
to zero), so it writes ``engine/capabilities.json`` to the data bucket once it is ready
(``sagemaker/oculus/capabilities.py``) and ``GET /capabilities`` reads it back here. Until an
engine has started once there is nothing to read: ``known`` is False and only the approximate
engine is assumed, never TotalSegmentator.
"""

from __future__ import annotations

from typing import Any

from .errors import ServiceUnavailable
from .ports import BlobStore
from .responses import Capabilities, TotalSegmentatorTask

#: written by the engine (``oculus.capabilities.CAPABILITIES_KEY``)
CAPABILITIES_KEY = "engine/capabilities.json"

UNKNOWN: Capabilities = {
    "ok": True, "known": False, "publishedAt": None, "engineVersion": None, "default": "threshold",
    "totalsegmentator": {"installed": False, "usable": False, "version": None, "tasks": []},
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _task(raw: Any) -> TotalSegmentatorTask | None:
    if not isinstance(raw, dict) or not _text(raw.get("name")):
        return None
    structures = raw.get("structures")
    return {
        "name": raw["name"],
        "weights": raw.get("weights") is True,
        "fastWeights": raw.get("fastWeights") is True,
        "structures": [s for s in structures if isinstance(s, str)] if isinstance(structures, list) else [],
    }


def from_document(document: Any) -> Capabilities:
    """The API's answer from the engine's published document (anything malformed counts as
    absent: the UI must never offer a model on the strength of a bad document)."""
    segmentation = document.get("segmentation") if isinstance(document, dict) else None
    if not isinstance(segmentation, dict):
        return UNKNOWN
    raw = segmentation.get("totalsegmentator")
    raw = raw if isinstance(raw, dict) else {}
    tasks = [t for t in map(_task, raw.get("tasks") or []) if t]
    installed = raw.get("installed") is True
    usable = installed and any(t["weights"] or t["fastWeights"] for t in tasks)
    return {
        "ok": True,
        "known": True,
        "publishedAt": _text(document.get("publishedAt")),
        "engineVersion": _text(document.get("engineVersion")),
        "default": "totalsegmentator" if usable else "threshold",
        "totalsegmentator": {"installed": installed, "usable": usable, "version": _text(raw.get("version")),
                             "tasks": tasks},
    }


def engine_capabilities(blobs: BlobStore) -> Capabilities:
    try:
        document = blobs.read_json(CAPABILITIES_KEY)
    except Exception as exc:  # noqa: BLE001 - an unreadable object is a 503, not a guess
        raise ServiceUnavailable("the engine's capabilities could not be read",
                                 code="capabilities_unavailable") from exc
    return UNKNOWN if document is None else from_document(document)
