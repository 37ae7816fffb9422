"""The engine's use cases, shared by the command line and the inference server (through the
job-task table in ``oculus.tasks``).

Each function takes local paths; the server adds S3 around them. None reports the final
progress stages: uploading and ``done`` belong to whoever runs the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from . import __version__
from .options import ProcessOptions
from .progress import Progress, Viewable, no_progress, scaled
from .results import import_writers

# the progress stages of a volume job, in order (the server adds the last two)
TOTALSEG_STAGES = ("loading", "segmenting", "meshing", "exporting", "packaging", "done")

T = TypeVar("T")


def _loaded_while_importing(load: Callable[[], T]) -> T:
    """``load()`` on a thread while this one imports the mesher and the writers
    (``results.import_writers``).

    A cold start (``oculus mesh``) spends ~1 s importing; loading a label map spends most of its
    time inflating the file and searching bounding boxes, both with the GIL released
    (``io.inflate``, ``find_objects``), so the two overlap on a second core. Where the modules
    are already imported (the server's warm job process) this only costs a thread. ``load``'s
    exception, if any, is raised here.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="load") as reader:
        loading = reader.submit(load)
        import_writers()
        return loading.result()


def process_scan(
    scan: Path,
    out_dir: Path,
    options: ProcessOptions,
    progress: Progress = no_progress,
    *,
    work_dir: Path | None = None,
    viewable: Viewable | None = None,
) -> dict:
    """Scan -> segmentation -> meshes, report, preview and ZIP in out_dir; returns the summary.

    ``work_dir`` holds temporary files (an extracted DICOM ZIP); the job's own folder on the
    server, so nothing is written outside it. ``viewable``: see ``outputs.write_outputs``.
    """
    from .io import load_volume
    from .io.labels import looks_like_label_map
    from .segment.labels import LabelsEngine
    from .segment.routing import route_task
    from .segment.select import select_engine

    timings: dict[str, float] = {}
    started = time.perf_counter()
    progress("loading", 0)
    volume = _loaded_while_importing(lambda: load_volume(scan, work_dir=work_dir))
    timings["load"] = time.perf_counter() - started

    segment_options, routing = options.segment_options(), None
    if looks_like_label_map(volume.data):  # an uploaded segmentation: mesh it, no model
        engine = LabelsEngine.from_detected(volume, task=options.totalseg_task)
    else:
        segment_options, routing = route_task(volume, segment_options)  # MR scan -> total_mr
        engine, _why = select_engine(options.engine, segment_options)
    progress("segmenting", 5)
    t0 = time.perf_counter()
    segmentation = engine.segment(volume, segment_options, scaled(progress, 5, 60))
    if routing:
        segmentation = routing.record(segmentation)
    timings["segment"] = time.perf_counter() - t0
    return _finish(volume, segmentation, out_dir, options, progress, timings, started, viewable)


def mesh_label_map(
    label_map: Path,
    out_dir: Path,
    options: ProcessOptions,
    *,
    reference_scan: Path | None = None,
    progress: Progress = no_progress,
    viewable: Viewable | None = None,
) -> dict:
    """Mesh a label map the user already has (names from TotalSegmentator's map or a sidecar)."""
    from .io import load_label_map  # noqa: F401 - nibabel, before the loading thread needs it
    from .segment.labels import LabelsEngine

    timings: dict[str, float] = {}
    started = time.perf_counter()
    progress("loading", 0)
    def load() -> LabelsEngine:
        engine = LabelsEngine.from_file(label_map, task=options.totalseg_task)
        _ = engine.boxes  # found on the loading thread too: find_objects releases the GIL
        return engine

    engine = _loaded_while_importing(load)
    volume = engine.reference_volume(reference_scan)
    timings["load"] = time.perf_counter() - started
    t0 = time.perf_counter()
    segmentation = engine.segment(volume, options.segment_options(), scaled(progress, 5, 60))
    timings["segment"] = time.perf_counter() - t0
    return _finish(volume, segmentation, out_dir, options, progress, timings, started, viewable)


def _finish(volume, segmentation, out_dir, options: ProcessOptions, progress, timings, started, viewable) -> dict:
    from .outputs import write_outputs

    summary = write_outputs(
        volume,
        segmentation,
        out_dir,
        smoothing=options.smoothing,
        reduction_percent=options.reduction_percent,
        stl=options.stl,
        progress=scaled(progress, 60, 100),
        viewable=viewable,
    )
    timings.update(summary.pop("timings", {}))
    timings["total"] = time.perf_counter() - started
    return {
        "ok": True,
        "task": "totalseg",
        "engine": segmentation.engine.to_dict(),
        "engineVersion": __version__,
        **summary,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def classify_images(paths: list[Path], classifier=None) -> list[dict]:
    """Classify 2D brain-MRI images with one loaded model; one answer (or error) per path."""
    from .classify import load_classifier
    from .errors import OculusError
    from .io import load_image

    classifier = classifier or load_classifier()
    answers: list[dict | None] = [None] * len(paths)
    batch: list[tuple[int, object]] = []
    for index, path in enumerate(paths):
        try:
            batch.append((index, load_image(path)))
        except OculusError as exc:
            answers[index] = {"ok": False, "image": str(path), "error": exc.to_dict()}
    if batch:
        predictions = classifier.predict([image for _, image in batch])
        for (index, _), prediction in zip(batch, predictions, strict=True):
            answers[index] = {"ok": True, "image": str(paths[index]), **prediction}
    return answers  # type: ignore[return-value]


def classify_job(image: Path, out_dir: Path, classifier=None) -> dict:
    """A `classify` job: one image in, the image results of ``oculus.results`` out.

    The image is loaded once; a load failure raises its own typed InputError.
    """
    from .classify import load_classifier
    from .io import load_image
    from .results import ImageInputs, write_image_results

    pixels = load_image(image)
    [answer] = (classifier or load_classifier()).predict([pixels])
    files = write_image_results(ImageInputs(pixels, answer), out_dir)
    return {
        "ok": True, "task": "classify", "result": answer, "files": files,
        "engine": {"name": "classifier", **answer.get("model", {})},
    }
