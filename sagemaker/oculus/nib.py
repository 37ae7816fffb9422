"""nibabel, imported without pydicom: ``from oculus.nib import nib``.

nibabel.nifti1 imports pydicom whenever it is installed (and pydicom imports gdcm and requests),
only to parse DICOM-in-NIfTI header extensions (code 2), which nothing here reads: ~0.2 s of
CPU on the critical path of a 3 s ``oculus mesh``. Imported through here, nibabel keeps such an
extension as raw bytes; pydicom itself imports as usual afterwards (the DICOM loader needs it).
If pydicom or nibabel is already imported, this changes nothing.
"""

from __future__ import annotations

import sys

if "nibabel" not in sys.modules and "pydicom" not in sys.modules:
    sys.modules["pydicom"] = None  # type: ignore[assignment]  # `import pydicom` raises ImportError
    try:
        import nibabel  # noqa: F401 - imported here, while pydicom is out of reach
    finally:
        if "pydicom" in sys.modules and sys.modules["pydicom"] is None:
            del sys.modules["pydicom"]

import nibabel as nib

__all__ = ["nib"]
