"""What every segmentation engine takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..progress import Progress, no_progress
from ..volume import Volume


@dataclass(frozen=True)
class SegmentOptions:
    """What a segmentation engine is asked for; built by ``ProcessOptions.segment_options``.

    Inside the engines ``task`` is always TotalSegmentator's task (its ``totalseg_task`` in the
    job's options), never the job's task (``totalseg``/``mesh``/``classify``).
    """

    task: str = "total"  # TotalSegmentator task: total, total_mr, ...
    fast: bool = False
    fastest: bool = False
    roi_subset: tuple[str, ...] | None = None
    device: str = "cpu"  # "gpu" | "cpu"


@dataclass(frozen=True)
class EngineInfo:
    """Which engine produced a segmentation, stated plainly in every output."""

    name: str  # "totalsegmentator" | "threshold" | "labels"
    version: str
    task: str | None = None
    degraded: bool = False
    #: One sentence for the user, e.g. why the threshold fallback ran instead of TotalSegmentator.
    note: str = ""
    #: Set where the task was chosen for the scan's modality (``segment.routing``): the scan's
    #: modality and the task that was asked for.
    modality: str | None = None
    routed_from: str | None = None

    def to_dict(self) -> dict:
        info = {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "degraded": self.degraded,
            "note": self.note,
        }
        if self.routed_from:
            info.update(modality=self.modality, routedFrom=self.routed_from)
        return info


@dataclass
class Segmentation:
    """A label map on the volume's grid: 0 is background, ``classes`` names the others."""

    labels: np.ndarray  # integer array, same shape as the volume
    affine: np.ndarray  # the volume's affine (voxel -> RAS+ mm)
    classes: dict[int, str]  # label id -> structure name (TotalSegmentator's names)
    engine: EngineInfo
    warnings: list[str] = field(default_factory=list)
    # per label 1..max its bounding box (``mesh.boxes.label_boxes``) where the engine already
    # searched the map for them, so the mesher does not search it again; else None
    boxes: list | None = None


class SegmentationEngine(Protocol):
    name: str

    def segment(
        self, volume: Volume, options: SegmentOptions, progress: Progress = no_progress
    ) -> Segmentation: ...
