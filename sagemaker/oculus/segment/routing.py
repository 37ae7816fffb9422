"""Which TotalSegmentator task a scan gets: an MR scan asked for ``total`` (the CT model, the
default) is routed to ``total_mr``; the CT model on MR intensities gives nonsense.

The modality comes from the DICOM ``Modality`` tag where there is one. NIfTI records none: a
scan whose intensities are not Hounsfield units (``threshold.not_ct_reason``) is taken to be MR,
the only other modality TotalSegmentator segments. Either way the routing is recorded in the
engine info (``routedFrom``, ``modality``) that the job summary and report.json carry.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..volume import Volume
from .base import Segmentation, SegmentOptions
from .threshold import not_ct_reason

CT_TASK, MR_TASK = "total", "total_mr"


@dataclass(frozen=True)
class TaskRouting:
    """A task change made for the scan's modality: from ``requested`` to ``task``."""

    requested: str
    task: str
    modality: str
    why: str  # e.g. "DICOM Modality is MR"

    def record(self, segmentation: Segmentation) -> Segmentation:
        """The segmentation with the routing in its engine info, where TotalSegmentator ran the
        routed task (a fallback engine that ran instead says so in its own note)."""
        engine = segmentation.engine
        if engine.task != self.task:
            return segmentation
        note = f"{self.modality} scan ({self.why}): TotalSegmentator's {self.task} task was used instead of {self.requested}."
        segmentation.engine = dataclasses.replace(engine, modality=self.modality, routed_from=self.requested,
                                                  note=" ".join(filter(None, [engine.note, note])))
        return segmentation


def scan_modality(volume: Volume) -> tuple[str | None, str]:
    """("CT" | "MR" | other DICOM modality | None, why)."""
    if volume.modality:
        told = "DICOM Modality" if volume.source_format.startswith("dicom") else "the scan's intensities"
        return volume.modality.upper(), f"{told} say {volume.modality.upper()}"
    reason = not_ct_reason(volume)
    if reason is None:
        return "CT", "its intensities are Hounsfield units"
    return "MR", f"no modality is recorded and {reason}"


def route_task(volume: Volume, options: SegmentOptions) -> tuple[SegmentOptions, TaskRouting | None]:
    """``options`` with the task for this scan's modality, and the routing made (None: none)."""
    if options.task != CT_TASK:
        return options, None  # an explicit MR (or other) task is taken as asked
    modality, why = scan_modality(volume)
    if modality != "MR":
        return options, None
    routing = TaskRouting(requested=options.task, task=MR_TASK, modality=modality, why=why)
    return dataclasses.replace(options, task=MR_TASK), routing
