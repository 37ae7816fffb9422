"""The ``labels`` engine: mesh a label map the user already has.

Names come, in order of preference, from a file next to the label map with the same stem:

* ``<stem>.json``: ``{"1": "liver", "2": "spleen", ...}``;
* ``<stem>.ctbl`` / ``<stem>.txt``: a 3D Slicer colour table (``id name r g b a``) or an
  ITK-SNAP label description (``id r g b a vis mesh "name"``), comments starting with ``#``;
* otherwise TotalSegmentator's own class map for ``task`` (default ``total``).

Label ids present in the map but missing from the names get ``label_<id>`` and a warning.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np

from .. import __version__
from ..colors import class_names
from ..errors import InputError
from ..progress import Progress, no_progress
from ..volume import Volume
from .base import EngineInfo, Segmentation, SegmentOptions

_NIFTI_SUFFIX = re.compile(r"\.nii(\.gz)?$", re.IGNORECASE)


class LabelsEngine:
    name = "labels"

    def __init__(
        self, labels: np.ndarray, affine: np.ndarray, classes: dict[int, str], source: str,
        *, detected: bool = False,
    ) -> None:
        self.labels = labels
        self.affine = np.asarray(affine, dtype=np.float64)
        self.classes = classes
        self.source = source  # where the names came from, stated in the engine note
        self.detected = detected  # uploaded as a scan, recognised as a label map by its content
        self._boxes: list | None = None

    @classmethod
    def from_file(cls, path: Path | str, *, task: str = "total") -> LabelsEngine:
        from ..io import load_label_map

        path = Path(path)
        labels, affine = load_label_map(path)
        sidecar = find_sidecar(path)
        if sidecar is not None:
            return cls(labels, affine, read_names(sidecar), f"names from {sidecar.name}")
        return cls(labels, affine, class_names(task), f"names from TotalSegmentator's class map '{task}'")

    @classmethod
    def from_detected(cls, volume: Volume, *, task: str = "total") -> LabelsEngine:
        """A scan upload that ``io.labels.looks_like_label_map`` recognised as a label map."""
        from ..io.labels import as_labels

        labels = as_labels(volume.data, "the upload")
        return cls(labels, volume.affine, class_names(task),
                   f"names from TotalSegmentator's class map '{task}'", detected=True)

    def reference_volume(self, scan: Path | str | None = None) -> Volume:
        """The scan the labels belong to (for intensity statistics), or the label map itself."""
        if scan is None:
            return Volume(data=self.labels, affine=self.affine, source_format="label-map", modality=None)
        from ..io import load_volume

        volume = load_volume(Path(scan))
        if volume.shape != tuple(self.labels.shape) or not np.allclose(volume.affine, self.affine, atol=1e-3):
            raise InputError(
                f"the label map (grid {tuple(self.labels.shape)}) is not on the scan's voxel grid "
                f"({volume.shape}); give the scan the segmentation was made from.",
                code="label_map_mismatch",
            )
        return volume

    @property
    def boxes(self) -> list:
        """Each label's bounding box (``mesh.boxes.label_boxes``), found once, when first asked
        for (``pipeline`` asks on the thread that loads the map); ``segment`` hands them on to
        the mesher."""
        if self._boxes is None:
            from ..mesh.boxes import label_boxes

            self._boxes = label_boxes(self.labels)
        return self._boxes

    def segment(self, volume: Volume, options: SegmentOptions, progress: Progress = no_progress) -> Segmentation:
        progress("segmenting", 0)
        boxes = self.boxes
        present = [label for label, box in enumerate(boxes, start=1) if box is not None]
        unnamed = [v for v in present if v not in self.classes]
        classes = {v: self.classes.get(v, f"label_{v}") for v in present}
        warnings = []
        if self.detected:
            warnings.append(f"Label map detected: meshing its {len(present)} structure{'s' if len(present) != 1 else ''}.")
        if unnamed:
            warnings.append(
                f"{len(unnamed)} label id(s) have no name ({', '.join(map(str, unnamed[:10]))}"
                f"{', ...' if len(unnamed) > 10 else ''}); they are called label_<id>."
            )
        progress("segmenting", 100)
        return Segmentation(
            labels=self.labels,
            affine=self.affine,
            classes=classes,
            engine=EngineInfo(
                name="labels", version=__version__, task=options.task, degraded=False,
                note=(f"{'Label map detected: m' if self.detected else 'M'}eshed the label map you uploaded "
                      f"({self.source}); no segmentation model ran."),
            ),
            warnings=warnings,
            boxes=boxes,
        )


def find_sidecar(path: Path) -> Path | None:
    stem = _NIFTI_SUFFIX.sub("", path.name)
    for suffix in (".json", ".ctbl", ".txt"):
        candidate = path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def read_names(sidecar: Path) -> dict[int, str]:
    """Label id -> name from a JSON sidecar or a Slicer/ITK-SNAP colour table."""
    text = sidecar.read_text(encoding="utf-8", errors="replace")
    try:
        if sidecar.suffix == ".json":
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return {int(k): str(v) for k, v in data.items() if int(k) > 0}
        return _read_color_table(text)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{sidecar.name} cannot be read as label names ({exc}); use {{\"1\": \"liver\", ...}} JSON "
            "or a 3D Slicer / ITK-SNAP colour table.",
            code="invalid_label_names",
        ) from exc


def _read_color_table(text: str) -> dict[int, str]:
    names: dict[int, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = shlex.split(line)
        if '"' in line:  # ITK-SNAP: id r g b a visible mesh "name"
            label, name = int(fields[0]), fields[-1]
        else:  # 3D Slicer: id name r g b a
            label, name = int(fields[0]), fields[1]
        if label > 0:
            names[label] = name
    if not names:
        raise ValueError("no labels listed")
    return names


def present_labels(labels: np.ndarray) -> list[int]:
    """Non-zero label ids present, in order, without copying or sorting the whole map
    (``np.unique`` on nibabel's Fortran-ordered arrays flattened a copy and sorted it, 1.6 s on
    a 512 x 512 x 400 map): the labels that have a bounding box."""
    from ..mesh.boxes import label_boxes

    return [label for label, box in enumerate(label_boxes(labels), start=1) if box is not None]
