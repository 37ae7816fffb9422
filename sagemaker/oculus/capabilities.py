"""What this engine can segment, published where the API can read it.

The API cannot ask the engine (SageMaker async has no synchronous call, and the endpoint scales
to zero), so the engine writes its capabilities to the data bucket once it is ready:
``s3://$OCULUS_BUCKET/engine/capabilities.json`` (the API's ``GET /capabilities`` reads that
key: ``oculus_shared.capabilities.CAPABILITIES_KEY``). Each start rewrites it, so it describes
the image that last started, with the time it was written. Without ``OCULUS_BUCKET`` (a
laptop's ``oculus serve`` outside the local stack) nothing is published.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from . import __version__
from .storage import S3Location, put_json

log = logging.getLogger("oculus.capabilities")

CAPABILITIES_KEY = "engine/capabilities.json"
#: The TotalSegmentator tasks this product offers (an MR scan asked for ``total`` runs ``total_mr``).
OFFERED_TASKS = ("total", "total_mr")


def totalsegmentator_installed() -> bool:
    return importlib.util.find_spec("totalsegmentator") is not None


def _task_capability(task: str) -> dict:
    from .errors import OculusError
    from .segment.totalseg import task_class_names, weights_available

    def has_weights(**mode) -> bool:
        try:
            return weights_available(task, **mode)
        except OculusError:  # e.g. a task that has no fast model
            return False

    return {
        "name": task,
        "weights": has_weights(),
        "fastWeights": has_weights(fast=True),
        "structures": sorted(task_class_names(task).values()),
    }


def segmentation_capabilities() -> dict:
    """The engines this server runs and, for TotalSegmentator, which offered tasks have weights."""
    installed = totalsegmentator_installed()
    tasks = [_task_capability(t) for t in OFFERED_TASKS] if installed else []
    usable = any(t["weights"] or t["fastWeights"] for t in tasks)
    version = None
    if installed:
        from .segment.totalseg import totalsegmentator_version

        version = totalsegmentator_version()
    return {
        "default": "totalsegmentator" if usable else "threshold",
        "threshold": True,  # the fallback for any CT (and the body outline of an MR scan)
        "labels": True,  # an uploaded label map is meshed as it is
        "totalsegmentator": {"installed": installed, "usable": usable, "version": version, "tasks": tasks},
    }


def capabilities_document(segmentation: dict) -> dict:
    """The published object: the engine's version, when it was written, and its segmentation."""
    return {
        "engineVersion": __version__,
        "publishedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "segmentation": segmentation,
    }


def publish(segmentation: dict, *, put: Callable[[S3Location, dict], None] | None = None,
            attempts: int = 30, delay_s: float = 2.0) -> threading.Thread | None:
    """Write the capabilities to ``OCULUS_BUCKET`` in the background, retrying while the bucket
    cannot be reached (the local stack creates it while the engine loads). Returns the thread,
    or None where there is no bucket to publish to."""
    bucket = os.environ.get("OCULUS_BUCKET")
    if not bucket:
        return None
    document, target = capabilities_document(segmentation), S3Location(bucket, CAPABILITIES_KEY)
    put = put or put_json

    def run() -> None:
        for attempt in range(1, attempts + 1):
            try:
                put(target, document)
                log.info("capabilities published to %s", target)
                return
            except Exception as exc:  # noqa: BLE001 - retried, then logged: serving does not depend on it
                if attempt == attempts:
                    log.warning("capabilities not published after %d attempts: %s", attempts, exc)
                    return
                time.sleep(delay_s)

    thread = threading.Thread(target=run, name="oculus-capabilities", daemon=True)
    thread.start()
    return thread
