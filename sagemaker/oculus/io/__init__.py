"""Loading what users upload: 3D scans, label maps and 2D images.

Formats are recognised by content (``detect_format``). Every failure is an
``oculus.errors.InputError`` (or subclass) with a stable code; codes raised here:
``not_a_scan``, ``file_not_found``, ``truncated_file``, ``corrupt_nifti``, ``corrupt_dicom``,
``corrupt_archive``, ``corrupt_image``, ``not_3d``, ``not_2d``, ``invalid_spacing``,
``invalid_orientation``, ``invalid_voxels``, ``unsupported_voxel_type``, ``scan_too_large``,
``image_too_large``, ``decompression_bomb``, ``dicom_no_pixel_data``, ``dicom_missing_geometry``,
``unsupported_compression``, ``unsupported_dicom``, ``inconsistent_slice_spacing``,
``no_dicom_found``, ``unreadable_file``, ``unsafe_archive``, ``encrypted_archive``, ``archive_too_large``,
``not_a_label_map``, ``non_integer_labels``, ``negative_labels``, ``empty_label_map``.
Every compressed layer is refused before its memory is spent (``budget``).
"""

from .archive import safe_extract
from .detect import detect_format
from .image import load_image
from .labels import load_label_map
from .volume_loader import load_volume

__all__ = ["detect_format", "load_image", "load_label_map", "load_volume", "safe_extract"]
