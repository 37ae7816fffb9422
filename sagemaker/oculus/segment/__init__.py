"""Segmentation engines: each turns a ``Volume`` into a ``Segmentation`` (a label map + names)."""
