"""The job tasks (a manifest's ``task``) and what runs each: one table for the server and the CLI.

- ``totalseg``: a CT/MR scan -> segmentation -> meshes and every volume result
- ``mesh``: a label map the user already has -> the same results
- ``classify``: one brain-MRI slice -> prediction and the image as the model saw it

``totalseg`` and ``classify`` are what the API sends (the layer's ``Task``); ``mesh`` is the
engine's own (``oculus mesh`` and a manifest that names it). A task's options are validated by
``ProcessOptions.from_mapping`` whichever way they came in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .progress import Progress, Viewable, no_progress


@dataclass(frozen=True)
class JobContext:
    """What a task may use besides its input, output folder and options."""

    progress: Progress = no_progress
    work_dir: Path | None = None  # temporary files (an extracted DICOM ZIP)
    reference_scan: Path | None = None  # mesh: the scan the label map belongs to
    # classify: the loaded model of a version (None: the default); default: the shipped registry
    classifier: Callable[[str | None], Any] | None = None
    viewable: Viewable | None = None  # volume jobs: the 3D viewer's files, once written


Handler = Callable[[Path, Path, Mapping[str, Any], JobContext], dict]


def _totalseg(source: Path, out_dir: Path, options: Mapping[str, Any], context: JobContext) -> dict:
    from .options import ProcessOptions
    from .pipeline import process_scan

    return process_scan(source, out_dir, ProcessOptions.from_mapping(options), context.progress,
                        work_dir=context.work_dir, viewable=context.viewable)


def _mesh(source: Path, out_dir: Path, options: Mapping[str, Any], context: JobContext) -> dict:
    from .options import ProcessOptions
    from .pipeline import mesh_label_map

    return mesh_label_map(source, out_dir, ProcessOptions.from_mapping(options),
                          reference_scan=context.reference_scan, progress=context.progress,
                          viewable=context.viewable)


def _classify(source: Path, out_dir: Path, options: Mapping[str, Any], context: JobContext) -> dict:
    from .classify.registry import load_version
    from .options import ClassifyOptions
    from .pipeline import classify_job

    version = ClassifyOptions.from_mapping(options).model_version
    classifier = (context.classifier or load_version)(version)  # an unknown version fails here, a 4xx
    context.progress("classifying", 10)
    return classify_job(source, out_dir, classifier)


TASKS: dict[str, Handler] = {"totalseg": _totalseg, "mesh": _mesh, "classify": _classify}


def preload() -> None:
    """Import what the tasks need (a warm spare job process does this before its job)."""
    import importlib
    import importlib.util

    from .results import WRITER_MODULES

    for module in ("oculus.io", "oculus.io.labels", "oculus.segment.select", "oculus.segment.labels",
                   *WRITER_MODULES, "nibabel", "skimage.measure", "fast_simplification", "onnxruntime",
                   "totalsegmentator.python_api"):
        if importlib.util.find_spec(module.split(".")[0]) is not None:
            importlib.import_module(module)  # the last imports torch: ~2 s


def run_task(task: str, source: Path, out_dir: Path, options: Mapping[str, Any] | None = None,
             context: JobContext | None = None) -> dict:
    """Run one job task; the summary lists the files written into ``out_dir``."""
    return TASKS[task](source, out_dir, options or {}, context or JobContext())
