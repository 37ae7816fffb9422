"""Geometry checks shared by the mesh tests (independent of the code under test)."""

from __future__ import annotations

import numpy as np


def directed_edges_balanced(faces: np.ndarray) -> bool:
    """Closed, consistently wound surface: every directed edge a->b has a matching b->a."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).astype(np.int64)
    n = int(faces.max()) + 1
    forward = np.sort(edges[:, 0] * n + edges[:, 1])
    backward = np.sort(edges[:, 1] * n + edges[:, 0])
    return bool(np.array_equal(forward, backward))


def solid_volume_and_centroid(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, np.ndarray]:
    """Signed volume and centroid of the solid a closed triangle mesh bounds (tetra fan)."""
    v = vertices.astype(np.float64)
    origin = v.mean(axis=0)
    a, b, c = (v[faces[:, i]] - origin for i in range(3))
    volumes = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
    centres = (a + b + c) / 4.0
    total = volumes.sum()
    return float(total), (volumes[:, None] * centres).sum(axis=0) / total + origin


def voxel_centroid(labels: np.ndarray, label: int, affine: np.ndarray) -> np.ndarray:
    index = np.argwhere(labels == label).mean(axis=0)
    return affine[:3, :3] @ index + affine[:3, 3]
