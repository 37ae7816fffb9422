"""Mesh fidelity through the CLI, on label maps from disk, checked with an independent library.

For each label map: ``oculus mesh FILE -o OUT --stl [extra options]`` (default options unless
given), then every ``stl/*.stl`` is read back with trimesh (which merges vertices by position,
as a slicer does) and compared with the label map read by nibabel:

* closed 2-manifold: ``is_watertight`` and ``is_winding_consistent``, positive volume;
* volume: mesh volume against the voxel volume, for structures >= 1 mL (target: each within
  +-5 %, median within 2 %);
* centroid: mesh centre of mass against the voxel centroid, in voxels (target <= 0.5);
* deviation: the largest distance from the mesh (vertices and face centres) to the voxel
  boundary, in voxel index units (target <= 1). The voxel boundary is sampled on a 6 x 6 grid
  per voxel face, so the figure overstates the true distance by at most ~0.12 voxel.

Command (defaults to the repository's example label maps; give others as arguments)::

    .venv/bin/python benchmarks/bench_mesh_fidelity.py [--] [LABELS.nii.gz ...] [--options "--no-smoothing --reduction-percent 0"]

The threshold engine's label map of ``example_ct`` comes from
``.venv/bin/oculus process ../shared/data/ct/example_ct.nii.gz -o /tmp/ct && cp /tmp/ct/segmentation.nii.gz ...``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import trimesh
from scipy import ndimage
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ct"
DEFAULT_MAPS = [DATA / "example_seg.nii.gz", DATA / "example_seg_fast.nii.gz", DATA / "example_seg_dicom.nii.gz"]
_SAMPLES = 6  # per voxel face edge


def voxel_boundary_points(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World points on a _SAMPLES x _SAMPLES grid on every face between inside and outside."""
    padded = np.pad(mask, 1)
    grid = (np.arange(_SAMPLES) + 0.5) / _SAMPLES - 0.5
    points = []
    for axis in range(3):
        low = padded.take(range(padded.shape[axis] - 1), axis=axis)
        high = padded.take(range(1, padded.shape[axis]), axis=axis)
        faces = np.argwhere(low != high).astype(np.float64)
        faces[:, axis] += 0.5  # the face between voxel i and i+1
        others = [a for a in range(3) if a != axis]
        u, v = np.meshgrid(grid, grid, indexing="ij")
        offsets = np.zeros((u.size, 3))
        offsets[:, others[0]], offsets[:, others[1]] = u.ravel(), v.ravel()
        points.append((faces[:, None, :] + offsets[None]).reshape(-1, 3) - 1.0)
    index = np.concatenate(points)
    return index @ affine[:3, :3].T + affine[:3, 3]


def check_map(path: Path, options: list[str]) -> dict:
    image = nib.load(path)
    labels = np.asarray(image.dataobj).astype(np.int64)
    affine = image.affine
    voxel_mm3 = abs(float(np.linalg.det(affine[:3, :3])))
    voxel_mm = float(np.linalg.norm(affine[:3, :3], axis=0).min())
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([str(ROOT / ".venv" / "bin" / "oculus"), "mesh", str(path), "-o", out, "--stl", *options],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        report = {s["label"]: s for s in json.loads((Path(out) / "report.json").read_text())["structures"]}
        meshes = {}
        for stl in sorted((Path(out) / "stl").glob("*.stl")):
            label = int(stl.read_bytes()[:80].decode().split(" label ")[1].split()[0])
            meshes[label] = trimesh.load(stl, force="mesh")
    boxes = ndimage.find_objects(labels)
    rows = []
    for label, mesh in sorted(meshes.items()):
        box = boxes[label - 1]
        mask = labels[box] == label
        local = affine.copy()
        local[:3, 3] = affine[:3, :3] @ [s.start for s in box] + affine[:3, 3]
        expected = np.count_nonzero(mask) * voxel_mm3
        centroid = local[:3, :3] @ np.argwhere(mask).mean(axis=0) + local[:3, 3]
        # in voxel index units (a voxel is 1 along every axis, also on anisotropic grids)
        to_index = np.linalg.inv(local)
        tree = cKDTree(voxel_boundary_points(mask, np.eye(4)))
        samples = np.concatenate([mesh.vertices, mesh.triangles_center]) @ to_index[:3, :3].T + to_index[:3, 3]
        rows.append({
            "label": label,
            "name": report[label]["name"],
            "ml": expected / 1000.0,
            "triangles": len(mesh.faces),
            "closed": bool(mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0),
            "volume_error": float(mesh.volume / expected - 1.0),
            "centroid_voxels": float(np.linalg.norm(mesh.center_mass - centroid) / voxel_mm),
            "deviation_voxels": float(tree.query(samples)[0].max()),
            "reported_deviation_voxels": report[label].get("maxDeviationVoxels"),
        })
    return {"path": str(path), "wall_s": wall, "rows": rows}


def summarise(result: dict) -> bool:
    rows = result["rows"]
    big = [r for r in rows if r["ml"] >= 1.0]
    errors = np.abs([r["volume_error"] for r in big]) if big else np.zeros(1)
    open_ = [r["name"] for r in rows if not r["closed"]]
    off = [f"{r['name']} {r['volume_error']:+.1%}" for r in big if abs(r["volume_error"]) > 0.05]
    shifted = [r["name"] for r in big if r["centroid_voxels"] > 0.5]
    far = [r["name"] for r in rows if r["deviation_voxels"] > 1.0]
    print(f"{result['path']}: {len(rows)} meshes in {result['wall_s']:.1f} s, "
          f"{sum(r['triangles'] for r in rows)} triangles; closed 2-manifold {len(rows) - len(open_)}/{len(rows)}")
    print(f"  >= 1 mL: {len(big)}; |volume error| median {np.median(errors):.2%}, max {errors.max():.2%}; "
          f"centroid max {max((r['centroid_voxels'] for r in big), default=0):.2f} voxel; "
          f"deviation max {max(r['deviation_voxels'] for r in rows):.2f} voxel "
          f"(reported {max(r['reported_deviation_voxels'] or 0 for r in rows):.2f})")
    for what, names in (("open", open_), ("volume > 5 %", off), ("centroid > 0.5 voxel", shifted), ("deviation > 1 voxel", far)):
        if names:
            print(f"  {what}: {', '.join(names)}")
    return not (open_ or off or shifted or far or np.median(errors) > 0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("maps", nargs="*", type=Path, default=DEFAULT_MAPS)
    parser.add_argument("--options", default="", help="extra `oculus mesh` options, e.g. \"--reduction-percent 90\"")
    args = parser.parse_args()
    ok = all([summarise(check_map(path, shlex.split(args.options))) for path in args.maps])
    print("all targets met" if ok else "SOME TARGETS MISSED")


if __name__ == "__main__":
    main()
