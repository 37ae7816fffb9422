"""IRIS Oculus processing engine: scan in, segmentation, 3D meshes, report and ZIP out."""

__version__ = "0.1.0"
