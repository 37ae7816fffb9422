"""The in-memory scan every engine works on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: World coordinates throughout the engine: NIfTI RAS+ millimetres.
COORDINATE_SYSTEM = "RAS"
COORDINATE_SYSTEM_NOTE = (
    "World coordinates are RAS+ millimetres as in NIfTI: +x towards the patient's right, "
    "+y towards anterior, +z towards superior (DICOM LPS with x and y negated)."
)


#: Why a job without DICOM input has no seg.dcm / rtstruct.dcm (said without importing highdicom).
NO_DICOM_SOURCE = (
    "the input was not a DICOM series, so there are no source images for a DICOM SEG or "
    "RTSTRUCT to reference; upload the DICOM series to get seg.dcm and rtstruct.dcm"
)


@dataclass
class DicomSource:
    """The DICOM slices a Volume was built from, kept so results can reference them.

    ``datasets`` are the source headers without pixel data: one per slice in stack order for a
    series, or the one multi-frame file. The stack is the slices sorted along the slice normal,
    each ``rows x columns`` as stored; ``orientation_transform`` (a nibabel orientation
    transform) turns the stack's ``[column, row, slice]`` array into the Volume's array.
    ``problems`` says why objects that must lie exactly on the source slices (DICOM SEG,
    RTSTRUCT) cannot be made from this source; empty when they can.
    """

    datasets: list  # pydicom Datasets
    positions: np.ndarray  # (slices, 3) ImagePositionPatient of each stack slice, LPS mm
    orientation: np.ndarray  # (6,) ImageOrientationPatient: row cosine, column cosine
    pixel_spacing: tuple[float, float]  # (between rows, between columns) mm
    rows: int
    columns: int
    orientation_transform: np.ndarray
    #: multi-frame source: the 1-based frame number of each stack slice; None for a series
    frame_numbers: list[int] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def slice_count(self) -> int:
        return int(len(self.positions))

    def to_stack(self, array: np.ndarray) -> np.ndarray:
        """A Volume-shaped array as source slices: ``[slice, row, column]`` in stack order."""
        from .nib import nib

        ornt = nib.orientations
        inverse = np.empty_like(self.orientation_transform)
        for axis, (target, flip) in enumerate(self.orientation_transform):
            inverse[int(target)] = (axis, flip)
        stack = ornt.apply_orientation(array, inverse)  # [column, row, slice]
        return np.ascontiguousarray(np.transpose(stack, (2, 1, 0)))


@dataclass
class Volume:
    """A 3D scan on a voxel grid with its full voxel-to-world affine.

    ``data`` is indexed ``[i, j, k]`` like a NIfTI array; ``affine`` maps ``(i, j, k, 1)`` to
    RAS+ world millimetres. Values are in the scanner's units (Hounsfield units for CT).
    """

    data: np.ndarray
    affine: np.ndarray
    source_format: str  # "nifti" | "dicom-series" | "dicom-multiframe"
    modality: str | None = None  # "CT" | "MR" | None when unknown
    warnings: list[str] = field(default_factory=list)
    #: For DICOM input: the source slices' headers and where each voxel came from (None otherwise).
    dicom_source: DicomSource | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape[:3])  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel edge lengths in mm (column norms of the affine)."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    @property
    def voxel_volume_ml(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3]))) / 1000.0

    def to_nifti(self):
        from .nib import nib

        img = nib.Nifti1Image(self.data, self.affine)
        img.set_qform(self.affine, code=1)
        img.set_sform(self.affine, code=1)
        return img
