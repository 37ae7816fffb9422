"""Every result file a job writes, declared once: name, content type, writer, whether it goes
into result.zip, whether the web app shows it, and for which inputs it exists.

``outputs.write_outputs`` runs the volume writers and ``pipeline.classify_job`` the image ones;
both list what they wrote with the content types declared here, and the server uploads exactly
that list (``storage.upload_files``). docs/outputs.md describes each file; a test holds the two
together.

Adding an output format: a writer module plus one line in ``VOLUME_RESULTS`` (an adapter
``write(inputs, path)`` when the writer's signature differs). Pick ``needs`` by what the writer
reads: ``labels`` writers run while the meshing workers run, ``meshes`` ones in the exporting
pool, ``report`` ones once report.json's dict exists, ``package`` last. ``when`` limits a file
to some inputs (e.g. DICOM input only); a writer that finds it cannot make its file after all
returns ``[]`` and appends the reason to ``inputs.warnings``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .volume import NO_DICOM_SOURCE

if TYPE_CHECKING:
    import numpy as np

    from .mesh.model import StructureMesh
    from .segment.base import Segmentation
    from .volume import Volume

Needs = Literal["labels", "meshes", "report", "package"]
STRUCTURE = "<structure>"  # in a name: one file per structure


@dataclass
class VolumeInputs:
    """What the writers of a volume job read (filled in as the job goes)."""

    out_dir: Path
    volume: Volume
    segmentation: Segmentation
    intensity: np.ndarray | None  # the scan's voxels; None for a label map meshed without its scan
    stl: bool = False
    meshes: list[StructureMesh] = field(default_factory=list)
    report: dict | None = None
    zip_names: list[str] = field(default_factory=list)  # in-ZIP files written, for the packager
    zip_members: dict = field(default_factory=dict)  # their members, compressed ahead
    # a writer that cannot make its file for this input says why here (the job still succeeds)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImageInputs:
    """What the writers of an image (classify) job read."""

    pixels: np.ndarray  # the image as the model saw it (uint8)
    answer: dict


@dataclass(frozen=True)
class ResultFile:
    name: str  # path under the job's output folder; "<structure>" for one file per structure
    content_type: str
    # (inputs, path) -> None for the one file at path; a family (or a writer that may write
    # nothing) returns the paths it wrote
    write: Callable[[Any, Path], list[Path] | None]
    needs: Needs = "meshes"
    in_zip: bool = True
    shown: bool = False  # the web app shows or offers it
    # what the 3D viewer opens: published as soon as written, before the job ends (``VIEWER_FILES``)
    opens_viewer: bool = False
    # a writer that formats text holds the GIL throughout: it runs in a forked process, beside
    # the other writers instead of taking turns with them (``outputs``)
    own_process: bool = False
    when: Callable[[Any], bool] = lambda _inputs: True

    @property
    def is_family(self) -> bool:
        return STRUCTURE in self.name

    def target(self, out_dir: Path) -> Path:
        """The file, or for a family the folder its files go into."""
        return out_dir / (Path(self.name).parent if self.is_family else self.name)

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.name.replace(STRUCTURE, "*")) if self.is_family else name == self.name

    def run(self, inputs: Any, out_dir: Path) -> list[str]:
        """Write it; return the names written (relative to ``out_dir``)."""
        target = self.target(out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        paths = self.write(inputs, target)
        if paths is None:
            paths = [target]
        return [p.relative_to(out_dir).as_posix() for p in paths]


# --- writers: thin adapters onto the writer modules (imported when used: the server's start
# needs only the names and content types) -------------------------------------------------------

def _obj(r: VolumeInputs, path: Path) -> None:
    from .mesh.export_obj import write_obj
    from .result_zip import MemberWriter

    with MemberWriter(path) as out:  # 46 MB of text on the benchmark map: compressed as formatted
        write_obj(r.meshes, out)
    r.zip_members[path.relative_to(r.out_dir).as_posix()] = out.member


def _mtl(r: VolumeInputs, path: Path) -> None:
    from .mesh.export_obj import write_mtl

    write_mtl(r.meshes, path)


def _glb(r: VolumeInputs, path: Path) -> None:
    from .mesh.export_glb import write_glb

    write_glb(r.meshes, path)


def _stl(r: VolumeInputs, folder: Path) -> list[Path]:
    from .mesh.export_stl import write_stl_files

    return write_stl_files(r.meshes, folder)


def _label_map(r: VolumeInputs, path: Path) -> None:
    from .export_nifti import write_label_nifti

    write_label_nifti(r.segmentation, path)


def _scan(r: VolumeInputs, path: Path) -> None:
    from .export_nifti import write_scan_nifti

    write_scan_nifti(r.volume, path)


def _report(r: VolumeInputs, path: Path) -> None:
    path.write_text(json.dumps(r.report, indent=2))


def _report_csv(r: VolumeInputs, path: Path) -> None:
    from .report_csv import write_report_csv

    write_report_csv(r.report, path)


def _preview(r: VolumeInputs, path: Path) -> None:
    from .preview import write_preview

    segmentation = r.segmentation
    write_preview(
        path, intensity=r.intensity, labels=segmentation.labels, affine=segmentation.affine,
        colors={m.label: m.color for m in r.meshes}, meshes=r.meshes,
        title=_preview_title(segmentation.engine), is_ct=_looks_like_ct(r.volume, r.intensity),
    )


def _preview_title(engine) -> str:
    title = f"IRIS Oculus - engine: {engine.name} {engine.version}"
    if engine.task:
        title += f" ({engine.task})"
    if engine.degraded:
        title += " - fallback"
    return title


def _looks_like_ct(volume, intensity) -> bool:
    """For the preview's window only: CT when said so, or when unknown and air reads ~-1000."""
    if volume.modality:
        return volume.modality.upper() == "CT"
    return intensity is not None and float(intensity.min()) <= -900.0


def _zip(r: VolumeInputs, path: Path) -> None:
    from .result_zip import write_zip

    write_zip(r.out_dir, r.zip_names, path, r.zip_members)


def _without_dicom_source(r: VolumeInputs) -> bool:
    """True (and the reason noted once) when the input was not DICOM: decided before importing
    pydicom and highdicom, which cost a NIfTI job about a second of CPU."""
    if r.volume.dicom_source is not None:
        return False
    r.warnings.append(f"No DICOM SEG or RTSTRUCT was made: {NO_DICOM_SOURCE}.")
    return True


def _dicom_seg(r: VolumeInputs, path: Path) -> list[Path]:
    if _without_dicom_source(r):
        return []
    from .dicom_out import write_seg_result

    return write_seg_result(r, path)


def _dicom_rtstruct(r: VolumeInputs, path: Path) -> list[Path]:
    if _without_dicom_source(r):
        return []
    from .dicom_out import write_rtstruct_result

    return write_rtstruct_result(r, path)


def _has_scan(r: VolumeInputs) -> bool:
    return r.volume.source_format != "label-map"


def _prediction(r: ImageInputs, path: Path) -> None:
    path.write_text(json.dumps(r.answer, indent=2))


def _model_image(r: ImageInputs, path: Path) -> None:
    from PIL import Image

    Image.fromarray(r.pixels).save(path)


#: The modules the volume writers import when they run (the adapters above): imported ahead
#: where that pays (``import_writers``; and a warm spare's ``tasks.preload``).
WRITER_MODULES = ("oculus.outputs", "oculus.mesh.export_glb", "oculus.mesh.export_obj", "oculus.mesh.export_stl",
                  "oculus.preview", "oculus.export_nifti", "oculus.report_csv", "oculus.result_zip")


def import_writers() -> None:
    """Import ``WRITER_MODULES`` now (``pipeline``: while the input loads; ``outputs``: before
    it forks a writer, whose own import could wait on a lock another thread held at the fork)."""
    import importlib

    for module in WRITER_MODULES:
        importlib.import_module(module)

# The order here is the order of the job's file list.
VOLUME_RESULTS: tuple[ResultFile, ...] = (
    ResultFile("scene.obj", "model/obj", _obj, shown=True, own_process=True),
    ResultFile("scene.mtl", "model/mtl", _mtl, shown=True),
    ResultFile("scene.glb", "model/gltf-binary", _glb, shown=True, opens_viewer=True),
    ResultFile("segmentation.nii.gz", "application/gzip", _label_map, needs="labels", shown=True),
    # DICOM input only: otherwise the writer writes nothing and says why in the warnings
    ResultFile("seg.dcm", "application/dicom", _dicom_seg, needs="labels", shown=True),
    ResultFile("rtstruct.dcm", "application/dicom", _dicom_rtstruct, needs="labels", shown=True),
    ResultFile("report.json", "application/json", _report, needs="report", shown=True, opens_viewer=True),
    ResultFile("report.csv", "text/csv", _report_csv, needs="report", shown=True),
    ResultFile("preview.png", "image/png", _preview),
    ResultFile(f"stl/{STRUCTURE}.stl", "model/stl", _stl, shown=True, when=lambda r: r.stl),
    ResultFile("result.zip", "application/zip", _zip, needs="package", in_zip=False, shown=True),
    # the slice viewer shows the labels over the scan; a browser cannot read a DICOM upload, so
    # the scan goes back as NIfTI on the label map's grid
    ResultFile("scan.nii.gz", "application/gzip", _scan, needs="labels", in_zip=False, shown=True, when=_has_scan),
)

IMAGE_RESULTS: tuple[ResultFile, ...] = (
    # the answer is in the job's result too: the web app reads it from there
    ResultFile("prediction.json", "application/json", _prediction, in_zip=False),
    # the image as the model saw it (DICOM windowed to 8 bits), so every client can show it
    ResultFile("image.png", "image/png", _model_image, in_zip=False, shown=True),
)

ALL_RESULTS = VOLUME_RESULTS + IMAGE_RESULTS
#: the files the 3D viewer opens, published before the rest of a volume job's files
VIEWER_FILES = tuple(entry.name for entry in VOLUME_RESULTS if entry.opens_viewer)


def result_file(name: str) -> ResultFile | None:
    """The registry entry a written file belongs to (first match)."""
    return next((entry for entry in ALL_RESULTS if entry.matches(name)), None)


def content_type_for(name: str) -> str:
    entry = result_file(name)
    return entry.content_type if entry else "application/octet-stream"


def file_entry(out_dir: Path, name: str) -> dict:
    """One line of a job's file list (the contract's ``files``)."""
    return {"name": name, "size": (out_dir / name).stat().st_size, "contentType": content_type_for(name)}


def write_image_results(inputs: ImageInputs, out_dir: Path) -> list[dict]:
    """Every image-job result, in registry order; returns the file list."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [name for entry in IMAGE_RESULTS if entry.when(inputs) for name in entry.run(inputs, out_dir)]
    return [file_entry(out_dir, name) for name in names]
