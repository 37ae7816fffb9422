"""The engine's use cases, shared by the command line and the inference server.

Each function takes local paths; the server adds S3 around them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .errors import InputError
from .progress import Progress, no_progress, scaled
from .segment.base import SegmentOptions

TOTALSEG_STAGES = ("loading", "segmenting", "meshing", "exporting", "packaging", "done")


@dataclass(frozen=True)
class ProcessOptions:
    """Everything a `totalseg` job may ask for (the request manifest's ``options``)."""

    engine: str = "auto"  # auto | totalsegmentator | threshold
    task: str = "total"
    fast: bool = False
    fastest: bool = False
    roi_subset: tuple[str, ...] | None = None
    device: str = "gpu"
    reduction_percent: int = 90
    smoothing: bool = True
    stl: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, options: dict | None) -> ProcessOptions:
        options = dict(options or {})
        reduction = options.get("reduction_percent", 90)
        if not isinstance(reduction, int) or isinstance(reduction, bool) or not 0 <= reduction <= 99:
            raise InputError("reduction_percent must be an integer from 0 to 99", code="invalid_options")
        device = options.get("device", "gpu")
        if device not in ("gpu", "cpu"):
            raise InputError("device must be 'gpu' or 'cpu'", code="invalid_options")
        engine = options.get("engine", "auto")
        if engine not in ("auto", "totalsegmentator", "threshold"):
            raise InputError(
                "engine must be 'auto', 'totalsegmentator' or 'threshold'", code="invalid_options"
            )
        roi = options.get("roi_subset")
        if roi is not None and (
            not isinstance(roi, list) or not all(isinstance(n, str) and n for n in roi)
        ):
            raise InputError("roi_subset must be a list of structure names", code="invalid_options")
        return cls(
            engine=engine,
            task=str(options.get("task", "total")),
            fast=bool(options.get("fast", False)),
            fastest=bool(options.get("fastest", False)),
            roi_subset=tuple(roi) if roi else None,
            device=device,
            reduction_percent=reduction,
            smoothing=bool(options.get("smoothing", True)),
            stl=bool(options.get("stl", False)),
        )

    def segment_options(self) -> SegmentOptions:
        return SegmentOptions(
            task=self.task,
            fast=self.fast,
            fastest=self.fastest,
            roi_subset=self.roi_subset,
            device=self.device,
        )


def process_scan(
    scan: Path,
    out_dir: Path,
    options: ProcessOptions,
    progress: Progress = no_progress,
    *,
    work_dir: Path | None = None,
) -> dict:
    """Scan -> segmentation -> meshes, report, preview and ZIP in out_dir; returns the summary.

    ``work_dir`` holds temporary files (an extracted DICOM ZIP); the job's own folder on the
    server, so nothing is written outside it.
    """
    from .io import load_volume
    from .segment.select import select_engine

    timings: dict[str, float] = {}
    started = time.perf_counter()
    progress("loading", 0)
    volume = load_volume(scan, work_dir=work_dir)
    timings["load"] = time.perf_counter() - started

    engine, _why = select_engine(options.engine, options.segment_options())
    progress("segmenting", 5)
    t0 = time.perf_counter()
    segmentation = engine.segment(volume, options.segment_options(), scaled(progress, 5, 60))
    timings["segment"] = time.perf_counter() - t0
    return _finish(volume, segmentation, out_dir, options, progress, timings, started)


def mesh_label_map(
    label_map: Path,
    out_dir: Path,
    options: ProcessOptions,
    *,
    reference_scan: Path | None = None,
    progress: Progress = no_progress,
) -> dict:
    """Mesh a label map the user already has (names from TotalSegmentator's map or a sidecar)."""
    from .segment.labels import LabelsEngine

    timings: dict[str, float] = {}
    started = time.perf_counter()
    progress("loading", 0)
    engine = LabelsEngine.from_file(label_map, task=options.task)
    volume = engine.reference_volume(reference_scan)
    timings["load"] = time.perf_counter() - started
    t0 = time.perf_counter()
    segmentation = engine.segment(volume, options.segment_options(), scaled(progress, 5, 60))
    timings["segment"] = time.perf_counter() - t0
    return _finish(volume, segmentation, out_dir, options, progress, timings, started)


def _finish(volume, segmentation, out_dir, options, progress, timings, started) -> dict:
    from .outputs import write_outputs

    out_dir.mkdir(parents=True, exist_ok=True)
    summary = write_outputs(
        volume,
        segmentation,
        out_dir,
        smoothing=options.smoothing,
        reduction_percent=options.reduction_percent,
        stl=options.stl,
        progress=scaled(progress, 60, 100),
    )
    timings.update(summary.pop("timings", {}))
    if volume.source_format != "label-map":
        # The web app's slice viewer shows the labels over the scan; a DICOM upload is not
        # something a browser can read, so the scan goes back as NIfTI on the label map's grid.
        t0 = time.perf_counter()
        import nibabel as nib

        nib.save(volume.to_nifti(), out_dir / "scan.nii.gz")
        summary["files"].append(_file_entry(out_dir / "scan.nii.gz"))
        timings["scan_nifti"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    progress("done", 100)
    return {
        "ok": True,
        "task": "totalseg",
        "engine": segmentation.engine.to_dict(),
        "engineVersion": __version__,
        **summary,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def _file_entry(path: Path) -> dict:
    from .storage import content_type_for

    return {"name": path.name, "size": path.stat().st_size, "contentType": content_type_for(path.name)}


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
    """A `classify` job: one image in, prediction.json and image.png out.

    The image is loaded once; a load failure raises its own typed InputError.
    """
    from PIL import Image

    from .classify import load_classifier
    from .io import load_image

    pixels = load_image(image)
    [answer] = (classifier or load_classifier()).predict([pixels])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "prediction.json").write_text(json.dumps(answer, indent=2))
    # The image as the model saw it (DICOM windowed to 8 bits), so every client can show it.
    Image.fromarray(pixels).save(out_dir / "image.png")
    return {"ok": True, "task": "classify", "result": answer, "engine": {"name": "classifier", **answer.get("model", {})}}
