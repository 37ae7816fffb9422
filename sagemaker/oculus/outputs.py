"""All result files of a volume job (``totalseg`` or ``mesh``), written from a volume and its
segmentation by the writers declared in ``oculus.results`` (names, content types, ZIP or not).

Names are part of the contract, see docs/outputs.md. Every file is deterministic: same input
and options give byte-identical files, report.json and result.zip included (no timings or dates
in the report; gzip and ZIP timestamps are fixed, ZIP members are sorted). Stage timings are
returned in the summary's ``timings``.

Speed: the ``labels`` writers (label NIfTI, scan NIfTI) run while the meshing workers run;
afterwards the report, then the ``meshes`` writers share a pool of two threads (numpy and file
writes release the GIL), each compressing its own ZIP member right after writing, so packaging
only concatenates already-compressed members (nothing is compressed twice). A writer marked
``own_process`` (the OBJ: formatting text holds the GIL) runs in a forked process beside them. The files the 3D
viewer opens (``results.VIEWER_FILES``: the GLB and report.json) are written first and handed to
``viewable`` at once, so a server can publish them while the OBJ, the preview and the ZIP are
still being written.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from threadpoolctl import threadpool_limits

from .errors import InputError
from .mesh.boxes import worker_count
from .mesh.extract import extract_meshes
from .progress import Progress, Viewable, no_progress
from .report import build_report, mesh_statistics
from .result_zip import zip_member
from .results import (
    VIEWER_FILES,
    VOLUME_RESULTS,
    ResultFile,
    VolumeInputs,
    file_entry,
    import_writers,
)
from .segment.base import Segmentation
from .volume import COORDINATE_SYSTEM, Volume

_EXPORT_THREADS = 2


def write_outputs(
    volume: Volume,
    segmentation: Segmentation,
    out_dir: Path,
    *,
    smoothing: bool = True,
    reduction_percent: int | None = None,
    stl: bool = False,
    progress: Progress = no_progress,
    viewable: Viewable | None = None,
) -> dict:
    """Write every result file into ``out_dir``; return ``{"files", "result", "timings"}``.

    ``reduction_percent``: None for the engine's tolerance-based decimation, 0..99 to override.
    ``viewable``: called once with the file entries of ``VIEWER_FILES`` as soon as they are
    written (the rest of the files follow).
    """
    # numpy's OpenBLAS starts a thread per core for each small matrix product (vertex
    # transforms, the deviation's 26-neighbour sums); with a meshing worker on every core those
    # threads only contend: one BLAS thread cut the 512x512x400 benchmark's meshing from 2.7 s
    # to 1.8 s wall (forked workers inherit the limit)
    with threadpool_limits(limits=1, user_api="blas"):
        return _write_outputs(volume, segmentation, Path(out_dir), smoothing=smoothing,
                              reduction_percent=reduction_percent, stl=stl, progress=progress,
                              viewable=viewable)


def _write_outputs(volume, segmentation, out_dir: Path, *, smoothing, reduction_percent, stl, progress,
                   viewable) -> dict:
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
    inputs = VolumeInputs(
        out_dir, volume, segmentation, stl=stl,
        intensity=None if volume.source_format == "label-map" else volume.data,
    )
    entries = [entry for entry in VOLUME_RESULTS if entry.when(inputs)]
    written: dict[str, list[str]] = {}  # registry name -> files written

    def record(entry: ResultFile, done: tuple[list[str], dict, float]) -> None:
        names, members, seconds = done
        inputs.zip_members.update(members)  # one key per file: safe across the pool's threads
        written[entry.name] = names
        timings[entry.name] = seconds

    def run(entry: ResultFile) -> None:
        record(entry, _run_writer(entry, inputs, out_dir))

    def run_phase(needs: str) -> None:
        for entry in entries:
            if entry.needs == needs:
                run(entry)

    t0 = time.perf_counter()
    progress("meshing", 0)
    inputs.meshes = extract_meshes(
        labels, segmentation.affine, segmentation.classes,
        smoothing=smoothing, reduction_percent=reduction_percent,
        progress=lambda _stage, percent: progress("meshing", 0.7 * percent),
        background=lambda: run_phase("labels"),  # they need no meshes: written while meshing
        intensity=inputs.intensity,
        boxes=segmentation.boxes,
    )
    timings["mesh"] = time.perf_counter() - t0
    for entry in entries:  # in case the mesher had no moment to spare for them
        if entry.needs == "labels" and entry.name not in written:
            run(entry)

    # the report needs the meshes and the label writers' warnings, not the other files
    options = {"smoothing": smoothing, "reduction_percent": reduction_percent, "stl": stl}
    inputs.report = build_report(
        volume, segmentation, inputs.meshes, mesh_statistics(inputs.meshes, segmentation.affine, labels, inputs.intensity),
        options=options, intensity_unit=_intensity_unit(volume, inputs.intensity),
    )
    inputs.report["warnings"] = list(dict.fromkeys([*inputs.report["warnings"], *inputs.warnings]))
    run_phase("report")

    progress("exporting", 70)
    t0 = time.perf_counter()
    # what the viewer opens first, then registry order (the OBJ, the largest writer, next)
    exporters = sorted((e for e in entries if e.needs == "meshes"), key=lambda e: not e.opens_viewer)
    with _apart(inputs, out_dir, [e for e in exporters if e.own_process]) as apart, \
            ThreadPoolExecutor(_EXPORT_THREADS) as pool:
        for future in [pool.submit(run, entry) for entry in exporters if entry.name not in apart]:
            future.result()
            if viewable is not None and all(e.name in written for e in entries if e.opens_viewer):
                viewable([file_entry(out_dir, name) for name in VIEWER_FILES if name in written])
                viewable = None
        for entry in exporters:
            if entry.name in apart:
                *done, warnings = apart[entry.name].result()
                inputs.warnings.extend(warnings)
                record(entry, tuple(done))
    timings["export"] = time.perf_counter() - t0

    progress("exporting", 90)
    inputs.zip_names = [n for e in entries if e.in_zip for n in written[e.name]]
    run_phase("package")
    progress("exporting", 100)

    files = [file_entry(out_dir, name) for entry in entries for name in written[entry.name]]
    meshes = inputs.meshes
    result = {
        "structures": len(meshes),
        "structureNames": [m.name for m in meshes],
        "triangles": int(sum(m.triangle_count for m in meshes)),
        "coordinateSystem": COORDINATE_SYSTEM,
        # an engine may repeat the loader's warnings in its own: each once, in order
        "warnings": list(dict.fromkeys([*volume.warnings, *segmentation.warnings, *inputs.warnings])),
    }
    return {"files": files, "result": result, "timings": timings}


def _run_writer(entry: ResultFile, inputs: VolumeInputs, out_dir: Path) -> tuple[list[str], dict, float]:
    """(names written, their ZIP members compressed ahead, seconds)."""
    t0 = time.perf_counter()
    names = entry.run(inputs, out_dir)
    # a writer that compressed its member as it wrote (``MemberWriter``) left it in zip_members
    members = {n: inputs.zip_members.get(n) or zip_member(n, (out_dir / n).read_bytes()) for n in names} if entry.in_zip else {}
    return names, members, time.perf_counter() - t0


class _apart:  # noqa: N801 - used as a context manager, like ``open``
    """``own_process`` writers started in one forked process at once: name -> its future of
    ``_run_writer``'s answer plus the warnings the writer added.

    Forked before the export threads start (a fork copies only the thread that forks), with the
    writers' modules already imported (an import in the child could wait on a lock some other
    thread held at the fork). Without fork or a second CPU they run on the threads like the
    others (an empty mapping).
    """

    def __init__(self, inputs: VolumeInputs, out_dir: Path, entries: list[ResultFile]) -> None:
        self.futures: dict[str, Future] = {}
        self.pool: ProcessPoolExecutor | None = None
        if not entries or worker_count(None, 2) < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return
        import_writers()
        # initargs reach a forked worker by the fork itself: nothing pickled, nothing global
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_receive, initargs=(inputs, out_dir))
        try:
            self.futures = {entry.name: self.pool.submit(_run_apart, entry.name) for entry in entries}
        except BaseException:
            self.pool.shutdown(cancel_futures=True)
            raise

    def __enter__(self) -> dict[str, Future]:
        return self.futures

    def __exit__(self, *_exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


_APART: tuple[VolumeInputs, Path] | None = None  # in a forked writer: what it writes from


def _receive(inputs: VolumeInputs, out_dir: Path) -> None:
    global _APART
    _APART = (inputs, out_dir)


def _run_apart(name: str) -> tuple[list[str], dict, float, list[str]]:
    assert _APART is not None
    inputs, out_dir = _APART
    known = len(inputs.warnings)
    done = _run_writer(next(e for e in VOLUME_RESULTS if e.name == name), inputs, out_dir)
    return (*done, inputs.warnings[known:])  # a writer that gave up says why (results.py)


def _intensity_unit(volume: Volume, intensity) -> str | None:
    if intensity is None:
        return None
    return "HU" if (volume.modality or "").upper() == "CT" else "scanner units"
