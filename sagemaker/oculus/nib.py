"""nibabel, imported without pydicom: ``from oculus.nib import nib``.

nibabel.nifti1 imports pydicom whenever it is installed (and pydicom imports gdcm and requests),
only to parse DICOM-in-NIfTI header extensions (code 2), which nothing here reads: ~0.2 s of
CPU on the critical path of a 3 s ``oculus mesh``. Imported through here, nibabel keeps such an
extension as raw bytes; pydicom itself imports as usual afterwards (the DICOM loader needs it).
If pydicom or nibabel is already imported, the import is nibabel's own; either way a DICOM
extension is kept as raw bytes (below), so a file loads the same whichever came first. Import this
module before starting threads that might import pydicom (``pipeline`` imports ``oculus.io``, and
with it this module, on the main thread before its loading thread starts): for the moment of the
import, ``import pydicom`` fails process-wide.
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

# parsing a DICOM extension (code 2) can only fail here, never help: nothing reads it, and a
# malformed one made nibabel refuse the whole file when pydicom happened to be imported first
for _key in (2, "dicom"):
    nib.nifti1.extension_codes.handler[_key] = nib.nifti1.Nifti1Extension

__all__ = ["nib"]
