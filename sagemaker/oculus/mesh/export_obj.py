"""scene.obj + scene.mtl: one named object and material per structure, vertex normals.

Coordinates are RAS+ world millimetres (the web app maps RAS to three.js itself). MTL ``Kd``
is the structure's sRGB colour scaled to 0-1 (MTL colours are sRGB, unlike glTF's).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .model import StructureMesh
from .text import decimal_columns, digit_table, face_columns, lines


def material_name(mesh: StructureMesh) -> str:
    """A whitespace-free, unique-per-label material/group name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", mesh.name) or f"label_{mesh.label}"


def write_obj(meshes: list[StructureMesh], destination: Path | BinaryIO, mtl_name: str = "scene.mtl") -> None:
    """Write all structures into one OBJ (1-based indices shared by ``v`` and ``vn``), to a path
    or a binary file (``result_zip.MemberWriter``: each chunk is written once, never changed).

    Per structure: ``o <name>``, ``usemtl <name>``, its ``v`` and ``vn`` lines, then
    ``f a//a b//b c//c`` lines (what three.js' OBJLoader, Blender and trimesh read as one
    object with one material).
    """
    if isinstance(destination, (str, Path)):
        with open(destination, "wb") as out:
            write_obj(meshes, out, mtl_name)
        return
    out = destination
    table = digit_table(sum(len(m.vertices) for m in meshes) + 1)  # decimal strings of 1..N
    out.write(b"# IRIS Oculus scene: RAS+ world millimetres, one object per structure\n")
    out.write(f"mtllib {mtl_name}\n".encode())
    offset = 1
    for mesh in meshes:
        name = material_name(mesh)
        out.write(f"o {name}\nusemtl {name}\n".encode())
        out.write(lines(b"v", decimal_columns(mesh.vertices, 4)))
        out.write(lines(b"vn", decimal_columns(mesh.normals, 4)))
        if len(mesh.faces):
            out.write(lines(b"f", face_columns(mesh.faces.astype(np.int64) + offset, table)))
        offset += len(mesh.vertices)


def write_mtl(meshes: list[StructureMesh], mtl_path: Path) -> None:
    parts = ["# IRIS Oculus materials: Kd is sRGB 0-1 from TotalSegmentator's SNOMED colours\n"]
    for mesh in meshes:
        r, g, b = (c / 255.0 for c in mesh.color)
        parts.append(
            f"newmtl {material_name(mesh)}\nKa 0 0 0\nKd {r:.4f} {g:.4f} {b:.4f}\n"
            "Ks 0.1 0.1 0.1\nNs 20\nd 1\nillum 2\n\n"
        )
    mtl_path.write_text("".join(parts))
