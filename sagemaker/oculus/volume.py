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
        import nibabel as nib

        img = nib.Nifti1Image(self.data, self.affine)
        img.set_qform(self.affine, code=1)
        img.set_sform(self.affine, code=1)
        return img
