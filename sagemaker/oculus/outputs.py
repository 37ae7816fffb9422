"""All result files of a totalseg job, written from a volume and its segmentation.

Files (names are part of the contract, see docs/outputs.md): scene.obj, scene.mtl, scene.glb,
segmentation.nii.gz, report.json, preview.png, result.zip, and stl/<structure>.stl when asked.
Every file is deterministic: same input and options give byte-identical files, report.json and
result.zip included (no timings or dates in the report; gzip and ZIP timestamps are fixed, ZIP
members are sorted). Stage timings are returned in the summary's ``timings``.

Speed: the label NIfTI is written while the meshing workers run; afterwards the OBJ is written
and deflated for the ZIP in a thread while this thread writes the MTL, GLB, STL and preview;
the ZIP is then assembled from already-compressed members (nothing is compressed twice).
"""

from __future__ import annotations

import gzip
import json
import struct
import time
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import InputError
from .mesh.export_glb import write_glb
from .mesh.export_obj import write_mtl, write_obj
from .mesh.export_stl import write_stl_files
from .mesh.extract import extract_meshes
from .preview import write_preview
from .progress import Progress, no_progress
from .report import build_report, mesh_statistics
from .segment.base import Segmentation
from .volume import COORDINATE_SYSTEM, Volume

CONTENT_TYPES = {
    ".obj": "model/obj",
    ".mtl": "model/mtl",
    ".glb": "model/gltf-binary",
    ".stl": "model/stl",
    ".gz": "application/gzip",
    ".json": "application/json",
    ".png": "image/png",
    ".zip": "application/zip",
}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# stored as is: already compressed, or float32 binary that deflate shrinks by only ~10 %
_STORED = (".gz", ".png", ".zip", ".glb")


def write_outputs(
    volume: Volume,
    segmentation: Segmentation,
    out_dir: Path,
    *,
    smoothing: bool = True,
    reduction_percent: int = 90,
    stl: bool = False,
    progress: Progress = no_progress,
) -> dict:
    """Write every result file into ``out_dir``; return ``{"files", "result", "timings"}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = segmentation.labels
    if labels.shape != volume.shape:
        raise InputError(
            f"the label map's grid {labels.shape} differs from the scan's {volume.shape}",
            code="label_map_mismatch",
        )
    if not labels.any():
        raise InputError(
            "the segmentation is empty: no structure was found, so there is nothing to mesh. "
            "Check that the scan covers the body region the engine segments.",
            code="empty_segmentation",
        )
    timings: dict[str, float] = {}
    intensity = None if volume.source_format == "label-map" else volume.data

    # the label NIfTI needs no meshes: written here while the workers mesh
    side: dict = {}
    t0 = time.perf_counter()
    progress("meshing", 0)
    meshes = extract_meshes(
        labels, segmentation.affine, segmentation.classes,
        smoothing=smoothing, reduction_percent=reduction_percent,
        progress=lambda _stage, percent: progress("meshing", 0.7 * percent),
        background=lambda: _write_label_map(side, segmentation, out_dir),
        intensity=intensity,
    )
    timings["mesh"] = time.perf_counter() - t0

    progress("exporting", 70)
    t0 = time.perf_counter()
    # the OBJ (the largest writer; numpy and file writes release the GIL) in a thread while this
    # thread writes the MTL, GLB, STL and preview: the meshing workers have finished, so both
    # cores are free again
    members: dict[str, tuple] = {}  # ZIP members compressed ahead of packaging
    with ThreadPoolExecutor(1) as pool:
        obj_done = pool.submit(_timed, _write_obj_and_deflate, meshes, out_dir, members)
        write_mtl(meshes, out_dir / "scene.mtl")
        write_glb(meshes, out_dir / "scene.glb")
        stl_paths = write_stl_files(meshes, out_dir / "stl") if stl else []
        timings["export"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        write_preview(
            out_dir / "preview.png",
            intensity=intensity, labels=labels, affine=segmentation.affine,
            colors={m.label: m.color for m in meshes}, meshes=meshes,
            title=_preview_title(segmentation), is_ct=_looks_like_ct(volume, intensity),
        )
        timings["preview"] = time.perf_counter() - t1
        timings["obj"] = obj_done.result()
    timings.update(side["timings"])

    options = {"smoothing": smoothing, "reduction_percent": int(reduction_percent), "stl": stl}
    report = build_report(
        volume, segmentation, meshes, mesh_statistics(meshes, segmentation.affine), options=options,
        intensity_unit=_intensity_unit(volume, intensity),
    )
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))

    progress("packaging", 90)
    t0 = time.perf_counter()
    names = ["scene.obj", "scene.mtl", "scene.glb", "segmentation.nii.gz", "report.json", "preview.png"]
    names += [f"stl/{p.name}" for p in stl_paths]
    write_zip(out_dir, names, out_dir / "result.zip", members)
    timings["package"] = time.perf_counter() - t0
    progress("packaging", 100)

    files = [_file_entry(out_dir, name) for name in names + ["result.zip"]]
    result = {
        "structures": len(meshes),
        "structureNames": [m.name for m in meshes],
        "triangles": int(sum(m.triangle_count for m in meshes)),
        "coordinateSystem": COORDINATE_SYSTEM,
        # an engine may repeat the loader's warnings in its own: each once, in order
        "warnings": list(dict.fromkeys([*volume.warnings, *segmentation.warnings])),
    }
    return {"files": files, "result": result, "timings": timings}


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def _write_label_map(side: dict, segmentation: Segmentation, out_dir: Path) -> None:
    t0 = time.perf_counter()
    write_label_nifti(segmentation, out_dir / "segmentation.nii.gz")
    side["timings"] = {"labelmap": time.perf_counter() - t0}


def write_label_nifti(segmentation: Segmentation, path: Path) -> None:
    """The label map as NIfTI with the scan's affine (qform = sform), gzip with mtime 0."""
    import nibabel as nib

    labels = segmentation.labels
    dtype = np.uint8 if labels.max() < 256 else np.uint16
    header = nib.Nifti1Header()
    header.set_data_shape(labels.shape)
    header.set_data_dtype(dtype)
    header.set_qform(segmentation.affine, code=1)
    header.set_sform(segmentation.affine, code=1)
    header.set_intent("label")
    header.set_slope_inter(1.0, 0.0)
    header["vox_offset"] = 352
    # header + 4 empty extension bytes + voxels in NIfTI's Fortran order, streamed to gzip
    # (nibabel's to_bytes() took ~2 s on a 512x512x400 map because of its scaling checks)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0, filename="") as out:
        out.write(header.binaryblock + b"\0" * 4)
        for k in range(labels.shape[2]):  # one axial slab at a time bounds the extra memory
            out.write(np.ascontiguousarray(labels[:, :, k].T, dtype=dtype).tobytes())


def _write_obj_and_deflate(meshes, out_dir: Path, members: dict) -> None:
    """scene.obj, and its ZIP member compressed right away (in the exporting thread)."""
    write_obj(meshes, out_dir / "scene.obj")
    members["scene.obj"] = _member((out_dir / "scene.obj").read_bytes(), deflate=True)


def _member(data: bytes, *, deflate: bool) -> tuple[int, int, int, bytes]:
    """(method, crc32, uncompressed size, stored bytes) of one ZIP member."""
    if deflate:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15)  # raw deflate, as zipfile writes it
        body = compressor.compress(data) + compressor.flush()
        return zipfile.ZIP_DEFLATED, zlib.crc32(data), len(data), body
    return zipfile.ZIP_STORED, zlib.crc32(data), len(data), data


_DOS_DATE = ((_ZIP_TIME[0] - 1980) << 9) | (_ZIP_TIME[1] << 5) | _ZIP_TIME[2]
_DOS_TIME = (_ZIP_TIME[3] << 11) | (_ZIP_TIME[4] << 5) | (_ZIP_TIME[5] // 2)


def write_zip(out_dir: Path, names: list[str], zip_path: Path, members: dict | None = None) -> None:
    """ZIP of the named files in sorted order with fixed timestamps (byte-identical reruns).

    Already-compressed files and the GLB are stored, text deflated (level 1). ``members``:
    entries already compressed by ``_member`` (the OBJ, deflated while other files were being
    written), used as they are instead of compressing again.
    """
    members = dict(members or {})
    for name in names:
        if name not in members:
            members[name] = _member((out_dir / name).read_bytes(), deflate=not name.endswith(_STORED))
    if len(names) >= 0xFFFF or sum(len(m[3]) + 100 + len(n) for n, m in members.items()) >= 0xFFFFFFFF:
        _write_zip64(out_dir, names, zip_path)
        return
    central, offset = [], 0
    with open(zip_path, "wb") as out:
        for name in sorted(names):
            method, crc, size, body = members[name]
            encoded = name.encode()
            fields = (20, 0, method, _DOS_TIME, _DOS_DATE, crc, len(body), size, len(encoded), 0)
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded)
            out.write(body)
            central.append(struct.pack("<IH", 0x02014B50, 3 << 8 | 20) + struct.pack("<HHHHHIIIHH", *fields)
                           + struct.pack("<HHHII", 0, 0, 0, 0o644 << 16, offset) + encoded)
            offset += 30 + len(encoded) + len(body)
        directory = b"".join(central)
        out.write(directory)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0))


def _write_zip64(out_dir: Path, names: list[str], zip_path: Path) -> None:
    """The same archive through zipfile, for the rare job past the classic ZIP's 4 GB limits."""
    with zipfile.ZipFile(zip_path, "w", allowZip64=True) as archive:
        for name in sorted(names):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED if name.endswith(_STORED) else zipfile.ZIP_DEFLATED
            archive.writestr(info, (out_dir / name).read_bytes(), compresslevel=1)


def _file_entry(out_dir: Path, name: str) -> dict:
    suffix = Path(name).suffix
    return {"name": name, "size": (out_dir / name).stat().st_size, "contentType": CONTENT_TYPES[suffix]}


def _preview_title(segmentation: Segmentation) -> str:
    engine = segmentation.engine
    title = f"IRIS Oculus - engine: {engine.name} {engine.version}"
    if engine.task:
        title += f" ({engine.task})"
    if engine.degraded:
        title += " - fallback"
    return title


def _looks_like_ct(volume: Volume, intensity) -> bool:
    """For the preview's window only: CT when said so, or when unknown and air reads ~-1000."""
    if volume.modality:
        return volume.modality.upper() == "CT"
    return intensity is not None and float(intensity.min()) <= -900.0


def _intensity_unit(volume: Volume, intensity) -> str | None:
    if intensity is None:
        return None
    return "HU" if (volume.modality or "").upper() == "CT" else "scanner units"
