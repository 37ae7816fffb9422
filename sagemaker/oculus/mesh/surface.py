"""Surface extraction from one structure's mask crop, in crop voxel coordinates.

``iso_surface``: marching cubes (VTK's flying edges, several times faster than scikit-image's
marching cubes here) at 0.5 on an occupancy field (the mask as uint8, or the fraction of each
presampled block that is inside). For a field padded with background on every side the
surface is closed, and marching cubes' case table makes it a 2-manifold (each vertex on its own
grid edge, each edge shared by two triangles), also where voxels touch only along an edge or
at a corner. Returns ``(vertices float64 (N, 3) in field index units, faces int64 (M, 3))``
with faces wound counter-clockwise seen from outside in *index* space (positive volume).
"""

from __future__ import annotations

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

#: Just below 0.5 so a block that is exactly half inside counts as inside and no vertex lands
#: exactly on a grid node (which would make zero-area triangles).
ISO_LEVEL = 0.5 - 1e-3


def iso_surface(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes at ~0.5 of a zero-padded occupancy field (1 inside, 0 outside)."""
    field = np.ascontiguousarray(field if field.dtype in (np.uint8, np.float32) else field.astype(np.float32))
    image = vtkImageData()
    image.SetDimensions(*field.shape[::-1])  # C order: VTK's x is our last axis
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(field.ravel(), deep=False))
    contour = vtkFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, ISO_LEVEL)
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    contour.ComputeScalarsOff()
    contour.Update()
    output = contour.GetOutput()
    if output.GetNumberOfPoints() == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    points = numpy_support.vtk_to_numpy(output.GetPoints().GetData())[:, ::-1].astype(np.float64)
    faces = numpy_support.vtk_to_numpy(output.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    # VTK winds outward in (x, y, z) = (k, j, i); swapping back to (i, j, k) mirrors, so reverse
    return points, faces[:, ::-1].astype(np.int64)

