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
    #: ``surface_area_mm2(vertices, faces)``, where the mesh was made (a meshing worker, so
    #: the report does not sum every triangle again after the last structure); else on first use
    area_mm2: float | None = None

    @property
    def triangle_count(self) -> int:
        return int(len(self.faces))

    @property
    def surface_area_mm2(self) -> float:
        if self.area_mm2 is None:
            self.area_mm2 = surface_area_mm2(self.vertices, self.faces)
        return self.area_mm2


def surface_area_mm2(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Sum of the triangles' areas (world mm, so mm²)."""
    corners = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    return float(0.5 * row_norms(cross_rows(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])).sum())


def cross_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (N, 3) arrays, bit for bit ``np.cross`` (the same products and
    differences, in the inputs' type), which costs several times more on many short rows."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), np.result_type(a, b))
    for k in range(3):
        i, j = (k + 1) % 3, (k + 2) % 3
        out[:, k] = a[:, i] * b[:, j] - a[:, j] * b[:, i]
    return out


def row_norms(rows: np.ndarray) -> np.ndarray:
    """Length of each row of an (N, 3) array: bit for bit ``np.linalg.norm(rows, axis=1)`` (the
    same squares added in the same order), at a third of its cost (a reduction over an axis of 3)."""
    x, y, z = rows[:, 0], rows[:, 1], rows[:, 2]
    return np.sqrt(x * x + y * y + z * z)


def column_bounds(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per column minimum, per column maximum) of an (N, 3) array: ``min(axis=0)`` and
    ``max(axis=0)``, a column at a time (a strided pass each instead of a reduction over rows
    of three: several times faster). Raises for no rows, as they do."""
    low = np.array([rows[:, k].min() for k in range(rows.shape[1])], dtype=rows.dtype)
    high = np.array([rows[:, k].max() for k in range(rows.shape[1])], dtype=rows.dtype)
    return low, high
