"""Choosing the segmentation engine for a job: TotalSegmentator when it can run, else the fallback."""

from __future__ import annotations

from ..errors import InputError
from ..options import ENGINE_CHOICES
from .base import SegmentationEngine, SegmentOptions
from .threshold import ThresholdEngine
from .totalseg import TotalSegmentatorEngine, weights_available, weights_missing_error


def select_engine(requested: str, options: SegmentOptions) -> tuple[SegmentationEngine, str]:
    """Return (engine, note): the note says why this engine runs ("" for TotalSegmentator).

    - "totalsegmentator": needs its weights for the task; without them ``weights_missing``.
    - "threshold": the classical fallback, on request.
    - "auto": TotalSegmentator when its weights are installed, else the threshold fallback
      with the reason in its EngineInfo note.
    """
    if requested not in ENGINE_CHOICES:
        raise InputError(
            f"Unknown engine '{requested}': use one of {', '.join(ENGINE_CHOICES)}.",
            code="invalid_options",
        )
    if requested == "threshold":
        note = "Threshold engine requested; structures are approximate."
        return ThresholdEngine(reason=note), note
    roi = list(options.roi_subset) if options.roi_subset else None
    if weights_available(options.task, options.fast, options.fastest, roi):
        return TotalSegmentatorEngine(), ""
    if requested == "totalsegmentator":
        raise weights_missing_error(options.task, options.fast, options.fastest, roi)
    missing = weights_missing_error(options.task, options.fast, options.fastest, roi)
    note = (
        "Threshold fallback: TotalSegmentator weights are not installed here "
        f"({missing.message}); structures are approximate."
    )
    return ThresholdEngine(reason=note), note
