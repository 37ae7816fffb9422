"""scene.glb: one named node + mesh + material per structure (glTF 2.0 binary, no deps).

Positions and normals are RAS+ world millimetres as float32 (glTF nominally uses metres and
+Y up; the web app scales and maps RAS to three.js itself). ``baseColorFactor`` is the
structure colour converted from sRGB to linear, as glTF requires. Node ``extras`` carry the
label id, the structure name and its sRGB hex colour.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from ..colors import hex_color, srgb_to_linear, system_of
from .model import StructureMesh, column_bounds

_FLOAT, _UINT32 = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def glb_bytes(meshes: list[StructureMesh]) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    buffer_views, accessors, gltf_meshes, nodes, materials = [], [], [], [], []

    def add_view(data: bytes, target: int) -> int:
        nonlocal offset
        buffer_views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(data), "target": target})
        padded = data + b"\0" * (-len(data) % 4)
        chunks.append(padded)
        offset += len(padded)
        return len(buffer_views) - 1

    for mesh in meshes:
        vertices = np.ascontiguousarray(mesh.vertices, dtype="<f4")
        normals = np.ascontiguousarray(mesh.normals, dtype="<f4")
        indices = np.ascontiguousarray(mesh.faces, dtype="<u4").ravel()
        position = len(accessors)
        low, high = column_bounds(vertices)
        accessors.append({
            "bufferView": add_view(vertices.tobytes(), _ARRAY_BUFFER), "componentType": _FLOAT,
            "count": len(vertices), "type": "VEC3",
            "min": [float(v) for v in low], "max": [float(v) for v in high],
        })
        accessors.append({
            "bufferView": add_view(normals.tobytes(), _ARRAY_BUFFER), "componentType": _FLOAT,
            "count": len(normals), "type": "VEC3",
        })
        accessors.append({
            "bufferView": add_view(indices.tobytes(), _ELEMENT_ARRAY_BUFFER), "componentType": _UINT32,
            "count": len(indices), "type": "SCALAR",
        })
        materials.append({
            "name": mesh.name,
            "pbrMetallicRoughness": {
                "baseColorFactor": [round(c, 6) for c in srgb_to_linear(mesh.color)] + [1.0],
                "metallicFactor": 0.0,
                "roughnessFactor": 0.6,
            },
        })
        gltf_meshes.append({
            "name": mesh.name,
            "primitives": [{
                "attributes": {"POSITION": position, "NORMAL": position + 1},
                "indices": position + 2, "material": len(materials) - 1, "mode": 4,
            }],
        })
        nodes.append({
            "name": mesh.name, "mesh": len(gltf_meshes) - 1,
            "extras": {"label": mesh.label, "name": mesh.name, "color": hex_color(mesh.color),
                       "system": system_of(mesh.name)},
        })

    document = {
        "asset": {"version": "2.0", "generator": "IRIS Oculus"},
        "extras": {"coordinateSystem": "RAS", "units": "mm"},
        "scene": 0,
        "scenes": [{"name": "structures", "nodes": list(range(len(nodes)))}],
        "nodes": nodes, "meshes": gltf_meshes, "materials": materials,
        "accessors": accessors, "bufferViews": buffer_views,
        "buffers": [{"byteLength": offset}],
    }
    json_chunk = json.dumps(document, separators=(",", ":")).encode()
    json_chunk += b" " * (-len(json_chunk) % 4)
    binary = b"".join(chunks)
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    return b"".join([
        struct.pack("<4sII", b"glTF", 2, total),
        struct.pack("<I4s", len(json_chunk), b"JSON"), json_chunk,
        struct.pack("<I4s", len(binary), b"BIN\0"), binary,
    ])


def write_glb(meshes: list[StructureMesh], path: Path) -> None:
    path.write_bytes(glb_bytes(meshes))
