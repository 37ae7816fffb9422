"""OBJ/MTL, GLB and STL files read back with independent readers (trimesh-free)."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest

from oculus.mesh.export_glb import glb_bytes
from oculus.mesh.export_obj import write_mtl, write_obj
from oculus.mesh.export_stl import stl_bytes
from oculus.mesh.extract import extract_meshes


@pytest.fixture(scope="module")
def meshes():
    labels = np.zeros((16, 18, 14), np.uint8)
    labels[2:9, 3:12, 2:10] = 1
    labels[9:14, 5:15, 4:12] = 5
    affine = np.diag([-0.9, 0.9, 2.0, 1.0])
    affine[:3, 3] = [100.0, -50.0, -20.0]
    return extract_meshes(labels, affine, {1: "liver", 5: "spleen"}, reduction_percent=0, workers=1)


def _read_obj(text):
    groups, vertices, normals, current = {}, [], [], None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            vertices.append([float(x) for x in parts[1:4]])
        elif parts[0] == "vn":
            normals.append([float(x) for x in parts[1:4]])
        elif parts[0] == "usemtl":
            current = parts[1]
            groups[current] = []
        elif parts[0] == "f":
            corners = [p.split("//") for p in parts[1:]]
            assert all(int(a) == int(b) for a, b in corners)
            groups[current].append([int(a) - 1 for a, _ in corners])
    return np.array(vertices), np.array(normals), {k: np.array(v) for k, v in groups.items()}


def test_obj_round_trips_every_structure(tmp_path, meshes):
    write_obj(meshes, tmp_path / "scene.obj")
    write_mtl(meshes, tmp_path / "scene.mtl")
    text = (tmp_path / "scene.obj").read_text()
    assert "mtllib scene.mtl" in text
    vertices, normals, groups = _read_obj(text)
    assert list(groups) == ["liver", "spleen"]
    offset = 0
    for mesh in meshes:
        faces = groups[mesh.name]
        assert np.array_equal(faces - offset, mesh.faces)
        assert np.allclose(vertices[offset:offset + len(mesh.vertices)], mesh.vertices, atol=6e-5)
        assert np.allclose(normals[offset:offset + len(mesh.vertices)], mesh.normals, atol=6e-5)
        offset += len(mesh.vertices)
    mtl = (tmp_path / "scene.mtl").read_text()
    r, g, b = (c / 255 for c in meshes[0].color)
    assert f"newmtl liver\nKa 0 0 0\nKd {r:.4f} {g:.4f} {b:.4f}" in mtl


_OBJ_LINE = re.compile(
    r"(# .*|mtllib scene\.mtl|o [A-Za-z0-9_.-]+|usemtl [A-Za-z0-9_.-]+"
    r"|vn? -?(0|[1-9][0-9]*)\.[0-9]{4} -?(0|[1-9][0-9]*)\.[0-9]{4} -?(0|[1-9][0-9]*)\.[0-9]{4}"
    r"|f ([1-9][0-9]*)//\5 ([1-9][0-9]*)//\6 ([1-9][0-9]*)//\7)"
)


def test_obj_is_conventional_for_three_js_style_readers(tmp_path, meshes):
    """Single spaces, no zero padding, ``f v//vn`` with equal indices, one ``o`` + ``usemtl`` each."""
    write_obj(meshes, tmp_path / "scene.obj")
    text = (tmp_path / "scene.obj").read_text()
    assert text.endswith("\n") and "\0" not in text and "  " not in text
    for line in text.splitlines():
        assert _OBJ_LINE.fullmatch(line), line
    rows = text.splitlines()
    heads = [(i, line) for i, line in enumerate(rows) if line.startswith(("o ", "g ", "usemtl "))]
    assert [line for _, line in heads] == [f"{kind} {m.name}" for m in meshes for kind in ("o", "usemtl")]
    for mesh, (at, _) in zip(meshes, heads[::2], strict=True):
        body = rows[at + 2:at + 2 + 2 * len(mesh.vertices) + len(mesh.faces)]
        kinds = [line.split(" ", 1)[0] for line in body]
        assert kinds == ["v"] * len(mesh.vertices) + ["vn"] * len(mesh.vertices) + ["f"] * len(mesh.faces)
    assert "-0.0000" not in text


def test_text_formatting_matches_python(tmp_path):
    from oculus.mesh.text import decimal_columns, digit_table, face_columns, lines

    values = np.array([[0.0, -0.0, -0.00004], [-0.00007, 1234.56789, -999.99996], [7.5, 0.12346, -10.0]])  # no ties
    got = lines(b"v", decimal_columns(values, 4)).tobytes().decode()
    want = "".join("v " + " ".join(f"{v:.4f}" for v in row) + "\n" for row in values)
    assert got == want.replace("-0.0000", "0.0000")
    faces = np.array([[1, 9, 10], [99, 100, 101]])
    got = lines(b"f", face_columns(faces, digit_table(102))).tobytes().decode()
    assert got == "f 1//1 9//9 10//10\nf 99//99 100//100 101//101\n"


def _parse_glb(data):
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON"
    document = json.loads(data[20:20 + json_length])
    bin_length, bin_type = struct.unpack_from("<I4s", data, 20 + json_length)
    assert bin_type == b"BIN\0"
    return document, data[28 + json_length:28 + json_length + bin_length]


def _accessor(document, binary, index):
    accessor = document["accessors"][index]
    view = document["bufferViews"][accessor["bufferView"]]
    dtype = {5126: "<f4", 5125: "<u4"}[accessor["componentType"]]
    width = {"VEC3": 3, "SCALAR": 1}[accessor["type"]]
    raw = np.frombuffer(binary, dtype, count=accessor["count"] * width, offset=view["byteOffset"])
    return raw.reshape(-1, width) if width > 1 else raw


def _linear_rgb(rgb):
    """glTF wants linear colour: sRGB decoded by scikit-image (rgb2xyz, then back to linear RGB)."""
    from skimage.color import rgb2xyz
    from skimage.color.colorconv import xyz_from_rgb

    xyz = rgb2xyz(np.asarray(rgb, np.float64).reshape(1, 1, 3) / 255.0)[0, 0]
    return (np.linalg.inv(xyz_from_rgb) @ xyz).tolist()


def test_glb_has_one_named_node_per_structure_with_linear_colours(meshes):
    document, binary = _parse_glb(glb_bytes(meshes))
    assert [n["name"] for n in document["nodes"]] == ["liver", "spleen"]
    assert [n["extras"]["label"] for n in document["nodes"]] == [1, 5]
    for node, mesh in zip(document["nodes"], meshes, strict=True):
        primitive = document["meshes"][node["mesh"]]["primitives"][0]
        positions = _accessor(document, binary, primitive["attributes"]["POSITION"])
        assert np.array_equal(positions, mesh.vertices)
        assert np.array_equal(_accessor(document, binary, primitive["attributes"]["NORMAL"]), mesh.normals)
        assert np.array_equal(_accessor(document, binary, primitive["indices"]).reshape(-1, 3), mesh.faces)
        accessor = document["accessors"][primitive["attributes"]["POSITION"]]
        assert accessor["min"] == pytest.approx(positions.min(axis=0).tolist())
        colour = document["materials"][primitive["material"]]["pbrMetallicRoughness"]["baseColorFactor"]
        assert colour[:3] == pytest.approx(_linear_rgb(mesh.color), abs=1e-6)
        assert colour[0] < mesh.color[0] / 255 or mesh.color[0] in (0, 255)  # linear is darker


def test_glb_loads_with_pygltflib(tmp_path, meshes):
    pygltflib = pytest.importorskip("pygltflib")
    path = tmp_path / "scene.glb"
    path.write_bytes(glb_bytes(meshes))
    gltf = pygltflib.GLTF2().load(str(path))
    assert [n.name for n in gltf.nodes] == ["liver", "spleen"]


def test_binary_stl_matches_the_mesh(meshes):
    mesh = meshes[0]
    data = stl_bytes(mesh)
    (count,) = struct.unpack_from("<I", data, 80)
    assert count == mesh.triangle_count and len(data) == 84 + 50 * count
    records = np.frombuffer(data, np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]), offset=84)
    assert np.array_equal(records["v"], mesh.vertices[mesh.faces])
    cross = np.cross(records["v"][:, 1] - records["v"][:, 0], records["v"][:, 2] - records["v"][:, 0])
    assert np.all(np.einsum("ij,ij->i", cross, records["n"]) > 0)  # facet normals follow the winding
    np.testing.assert_allclose(np.linalg.norm(records["n"], axis=1), 1.0, rtol=1e-5)  # unit normals
