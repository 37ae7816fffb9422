"""Binary STL, one file per structure (RAS+ world millimetres), for 3D printing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .export_obj import material_name
from .model import StructureMesh, cross_rows, row_norms

_TRIANGLE = np.dtype([("normal", "<f4", 3), ("vertices", "<f4", (3, 3)), ("attribute", "<u2")])


def stl_bytes(mesh: StructureMesh) -> bytes:
    corners = mesh.vertices[mesh.faces].astype(np.float32)
    face_normals = cross_rows(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = row_norms(face_normals)[:, None]
    length[length == 0] = 1.0
    records = np.zeros(len(mesh.faces), dtype=_TRIANGLE)
    records["normal"] = face_normals / length
    records["vertices"] = corners
    header = f"IRIS Oculus {mesh.name} label {mesh.label} RAS mm".encode()[:80].ljust(80, b" ")
    return header + np.uint32(len(records)).tobytes() + records.tobytes()


def write_stl_files(meshes: list[StructureMesh], directory: Path) -> list[Path]:
    """``directory/<structure>.stl`` per mesh; returns the paths in mesh order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for mesh in meshes:
        path = directory / f"{material_name(mesh)}.stl"
        path.write_bytes(stl_bytes(mesh))
        paths.append(path)
    return paths
