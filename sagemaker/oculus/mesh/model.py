"""The mesh type shared by extraction and the exporters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StructureMesh:
    """One structure's closed surface in RAS+ world millimetres.

    Faces are wound counter-clockwise seen from outside (outward normals); ``color`` is sRGB
    0-255 from TotalSegmentator's SNOMED colour table.
    """

    label: int
    name: str
    vertices: np.ndarray  # (N, 3) float32, world mm
    faces: np.ndarray  # (M, 3) int32
    normals: np.ndarray  # (N, 3) float32, unit, outward
    color: tuple[int, int, int]
    #: Voxel measurements taken while meshing (extract.py): ``voxelCount``, ``centroidIndex``
    #: (mean voxel index i, j, k), ``box`` (index slices' start/stop), and when an intensity
    #: volume was given ``intensitySum`` / ``intensitySumSquares``.
    voxel_stats: dict = field(default_factory=dict)

    @property
    def triangle_count(self) -> int:
        return int(len(self.faces))
