"""DICOM loading: a series of single-frame files, or one multi-frame file, into a Volume.

The voxel grid and affine follow dicom2nifti (which TotalSegmentator uses to convert DICOM):
slices sorted along the slice normal, the slice step taken from the first and last positions,
and the array reoriented to LAS (i -> left, j -> anterior, k -> superior). A segmentation made
by TotalSegmentator from the same series therefore lies on exactly the same grid.

The slices' headers (without pixels) and their order stay on the Volume (``dicom_source``) so
DICOM results (SEG, RTSTRUCT) can reference them. Unevenly spaced slices (up to 3 missing in a
row) are interpolated onto a regular grid with a warning; such a Volume cannot carry DICOM
results, and ``dicom_source.problems`` says so, as it does for non-parallel slices and mixed
frames of reference.
"""

from __future__ import annotations

import struct
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom import uid as dcm_uid
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder

from ..errors import CorruptFileError, InputError, InvalidGeometryError
from ..nib import nib
from ..volume import DicomSource, Volume
from .budget import check_deflated_dicom
from .checks import check_finite, check_size, check_spacing

#: Pillow (pinned in requirements.txt) decodes JPEG 2000 with its bundled OpenJPEG. Naming it
#: keeps decoding off whichever other plugin (gdcm) happens to be installed alongside.
_PINNED_DECODER = {
    dcm_uid.JPEG2000Lossless: "pillow",
    dcm_uid.JPEG2000: "pillow",
    dcm_uid.JPEGBaseline8Bit: "pillow",
}
_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_TARGET_AXES = ("L", "A", "S")  # dicom2nifti's output orientation
#: Slices whose spacing deviates more than this from the mean are a gap, not rounding.
_SPACING_TOLERANCE = 0.05
#: Unevenly spaced slices are interpolated onto a regular grid while no gap exceeds this many
#: typical steps (up to 3 missing slices in a row); a larger gap is two series, refused.
_MAX_GAP_STEPS = 4.0


# --- reading single files ------------------------------------------------------------------


def read_header(path: Path) -> Dataset | None:
    """The file's dataset with pixel data deferred, or None when it is not DICOM at all."""
    with path.open("rb") as fh:
        head = fh.read(132)
    preamble = head[128:132] == b"DICM"
    if not preamble and not _starts_like_dicom(head):
        return None
    try:
        return _read(path, defer_size=4096)
    except CorruptFileError:
        if preamble:
            raise
        return None  # a stray file that merely started like DICOM


def read_full(path: Path) -> Dataset:
    return _read(path, defer_size=None)


def _read(path: Path, *, defer_size) -> Dataset:
    """dcmread that turns pydicom's 'end of file' warnings and garbage into corrupt_dicom."""
    check_deflated_dicom(path)  # pydicom would inflate a deflated dataset whole, unchecked
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(path, force=True, defer_size=defer_size)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on garbage
            raise _corrupt(path, exc) from exc
    truncated = [w for w in caught if "end of file" in str(w.message).lower()]
    if truncated:
        raise CorruptFileError(
            f"{path.name!r} is a truncated DICOM file (it ends in the middle of its data); upload the "
            "complete file again.",
            code="corrupt_dicom",
        )
    meta = getattr(ds, "file_meta", None)
    has_syntax = meta is not None and "TransferSyntaxUID" in meta
    if not has_syntax and "SOPClassUID" not in ds and "Modality" not in ds:
        raise _corrupt(path, ValueError("no DICOM elements"))
    return ds


def has_pixels(ds: Dataset) -> bool:
    return any(tag in ds for tag in _PIXEL_TAGS)


def decode_pixels(ds: Dataset, name: str) -> np.ndarray:
    """Decode the pixel data with the pinned decoder; wrap every decoder failure."""
    if not has_pixels(ds):
        raise _no_pixels(name)
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    plugin = _PINNED_DECODER.get(ts, "")
    if ts is not None and not _can_decode(ts, plugin):
        raise InputError(
            f"{name!r} is compressed as {getattr(ts, 'name', ts)}, which this service cannot decode; "
            "export the series uncompressed or as JPEG 2000.",
            code="unsupported_compression",
        )
    try:
        if plugin:
            ds.pixel_array_options(decoding_plugin=plugin)
        return ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - decoders raise anything from OSError to ValueError
        raise _corrupt(name, exc) from exc


def _can_decode(ts, plugin: str) -> bool:
    if not getattr(ts, "is_compressed", False):
        return True
    try:
        decoder = get_decoder(ts)
    except (NotImplementedError, ValueError):  # ValueError: the UID is not a transfer syntax
        return False
    return plugin in decoder.available_plugins if plugin else decoder.is_available


def _starts_like_dicom(head: bytes) -> bool:
    if len(head) < 8:
        return False
    return bool({struct.unpack("<H", head[:2])[0], struct.unpack(">H", head[:2])[0]} & {0x0002, 0x0008})


def _corrupt(name, exc: Exception) -> CorruptFileError:
    label = name.name if isinstance(name, Path) else name
    return CorruptFileError(
        f"{label!r} is a damaged DICOM file that cannot be read ({type(exc).__name__}); export it again.",
        code="corrupt_dicom",
    )


def _no_pixels(name) -> InputError:
    label = name.name if isinstance(name, Path) else name
    return InputError(
        f"{label!r} is DICOM but holds no image (no Pixel Data): it may be a report, DICOMDIR or "
        "structured document. Upload the image series itself.",
        code="dicom_no_pixel_data",
    )


# --- geometry ------------------------------------------------------------------------------


@dataclass
class _Frame:
    """One 2D slice: where its pixels come from and where it lies (LPS mm)."""

    source: Path | int  # a file of a series, or a frame index of a multi-frame file
    position: np.ndarray
    slope: float = 1.0
    intercept: float = 0.0
    instance: int = 0
    header: Dataset | None = None  # a series file's header, kept (without pixels) for references


@dataclass
class _Stack:
    frames: list[_Frame]
    row_cosine: np.ndarray  # direction of increasing column index
    col_cosine: np.ndarray  # direction of increasing row index
    pixel_spacing: tuple[float, float]  # (between rows, between columns)
    rows: int
    columns: int
    warnings: list[str] = field(default_factory=list)
    #: why results referencing the source slices (SEG, RTSTRUCT) cannot be made; see DicomSource
    problems: list[str] = field(default_factory=list)
    multiframe: Dataset | None = None  # the multi-frame file's header, when the stack is one file


def _orientation(value, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        iop = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError) as exc:
        raise _missing_geometry(name, "ImageOrientationPatient") from exc
    if iop.shape != (6,) or not np.all(np.isfinite(iop)):
        raise _missing_geometry(name, "ImageOrientationPatient")
    row, col = iop[:3], iop[3:]
    if np.linalg.norm(row) < 1e-6 or np.linalg.norm(col) < 1e-6 or abs(np.dot(row, col)) > 1e-2:
        raise InvalidGeometryError(
            f"{name!r} has an invalid ImageOrientationPatient {iop.tolist()}; re-export the series.",
            code="invalid_orientation",
        )
    return row / np.linalg.norm(row), col / np.linalg.norm(col)


def _pixel_spacing(value, name: str) -> tuple[float, float]:
    try:
        spacing = tuple(float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise _missing_geometry(name, "PixelSpacing") from exc
    if len(spacing) != 2:
        raise _missing_geometry(name, "PixelSpacing")
    if not all(np.isfinite(s) and s > 0 for s in spacing):
        raise InvalidGeometryError(
            f"{name!r} has PixelSpacing {list(spacing)}: zero, negative or not a number. Re-export "
            "the series with its real pixel size."
        )
    return spacing  # type: ignore[return-value]


def _position(value, name: str) -> np.ndarray:
    try:
        pos = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError) as exc:
        raise _missing_geometry(name, "ImagePositionPatient") from exc
    if pos.shape != (3,) or not np.all(np.isfinite(pos)):
        raise _missing_geometry(name, "ImagePositionPatient")
    return pos


def _missing_geometry(name: str, tag: str) -> InputError:
    return InputError(
        f"{name!r} lacks a usable {tag}, so the slices cannot be placed in space; export the series "
        "with its full geometry (anonymisers sometimes strip it).",
        code="dicom_missing_geometry",
    )


@dataclass
class _Regrid:
    """Unevenly spaced slices: their depths along the normal and the regular grid's depths."""

    depths: np.ndarray
    grid: np.ndarray


def _sorted_unique(stack: _Stack) -> tuple[list[_Frame], np.ndarray, _Regrid | None]:
    """Frames ordered along the slice normal (duplicates dropped), the grid's slice step, and
    for unevenly spaced slices the regular grid they are interpolated onto."""
    normal = np.cross(stack.row_cosine, stack.col_cosine)
    frames = sorted(stack.frames, key=lambda f: (float(np.dot(f.position, normal)), f.instance))
    unique = [frames[0]]
    for frame in frames[1:]:
        if abs(np.dot(frame.position - unique[-1].position, normal)) > 1e-3:
            unique.append(frame)
    if len(unique) < len(frames):
        stack.warnings.append(
            f"{len(frames) - len(unique)} slices repeat the position of another slice (several "
            "echoes or time points?); only the first slice at each position was used."
        )
    if len(unique) < 2:
        raise InputError(
            "The DICOM data holds a single slice position, i.e. a 2D image; a 3D series with several "
            "slices is needed (for one slice use tumour classification).",
            code="not_3d",
        )
    depths = np.array([np.dot(f.position, normal) for f in unique])
    steps = np.diff(depths)
    mean = float(steps.mean())
    step = (unique[-1].position - unique[0].position) / (len(unique) - 1)
    if not np.any(np.abs(steps - mean) > _SPACING_TOLERANCE * mean + 1e-3):
        return unique, step, None
    typical = float(np.median(steps))
    if steps.max() > _MAX_GAP_STEPS * typical:
        raise InputError(
            f"The slices are not evenly spaced (gaps from {steps.min():.3g} to {steps.max():.3g} mm): "
            "slices are missing or two series are mixed. Upload the complete series.",
            code="inconsistent_slice_spacing",
        )
    grid = depths[0] + typical * np.arange(int(round((depths[-1] - depths[0]) / typical)) + 1)
    stack.warnings.append(
        f"The slices are not evenly spaced (gaps from {steps.min():.3g} to {steps.max():.3g} mm: "
        f"missing slices?); the scan was interpolated onto a regular {typical:.3g} mm grid, so "
        "structures across a gap are interpolated too. Check them, or upload the complete series."
    )
    stack.problems.append(
        "the source slices are not evenly spaced, so the segmentation lies on an interpolated grid "
        "whose slices are not the source images"
    )
    return unique, step * (len(unique) - 1) * typical / (depths[-1] - depths[0]), _Regrid(depths, grid)


def _affine_las(stack: _Stack, first: np.ndarray, step: np.ndarray, shape: tuple[int, int, int]):
    """RAS affine of the [column, row, slice] array, and the transform to LAS order."""
    row_spacing, col_spacing = stack.pixel_spacing
    lps = np.eye(4)
    lps[:3, 0] = stack.row_cosine * col_spacing
    lps[:3, 1] = stack.col_cosine * row_spacing
    lps[:3, 2] = step
    lps[:3, 3] = first
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    check_spacing(ras)
    transform = nib.orientations.ornt_transform(
        nib.orientations.io_orientation(ras), nib.orientations.axcodes2ornt(_TARGET_AXES))
    return ras @ nib.orientations.inv_ornt_aff(transform, shape), transform


# --- assembling voxels -----------------------------------------------------------------------


def _hu_dtype(frames: list[_Frame], raw_dtype: np.dtype) -> np.dtype:
    integral = all(float(f.slope).is_integer() and float(f.intercept).is_integer() for f in frames)
    return np.dtype(np.int32) if integral and np.issubdtype(raw_dtype, np.integer) else np.dtype(np.float32)


def _to_volume(stack: _Stack, pixels_of, *, modality, source_format: str, max_bytes: int) -> Volume:
    """Stack frames (``pixels_of(frame) -> 2D array``) into a LAS-ordered Volume in HU."""
    frames, step, regrid = _sorted_unique(stack)
    n = len(frames)
    slices = n if regrid is None else len(regrid.grid)
    check_size(max(n, slices) * stack.rows * stack.columns * 4, max_bytes, "The DICOM series")
    shape = (stack.columns, stack.rows, slices)
    affine, transform = _affine_las(stack, frames[0].position, step, shape)
    block = None
    for k, frame in enumerate(frames):
        raw = pixels_of(frame)
        if raw.shape != (stack.rows, stack.columns):
            raise InputError(
                f"A slice has {raw.shape} pixels where {stack.rows}x{stack.columns} was expected "
                "(colour or mixed-size images?); upload a grey-value CT/MR series.",
                code="unsupported_dicom",
            )
        if block is None:
            block = np.empty((n, stack.rows, stack.columns), dtype=_hu_dtype(frames, raw.dtype))
        block[k] = raw * frame.slope + frame.intercept if (frame.slope, frame.intercept) != (1, 0) else raw
    if regrid is not None:
        block = _interpolate(block, regrid)
    data = np.transpose(block, (2, 1, 0))  # [column, row, slice] as in dicom2nifti
    data = np.ascontiguousarray(nib.orientations.apply_orientation(data, transform))
    data = _narrow(data)
    check_finite(data)
    return Volume(data=data, affine=affine, source_format=source_format,
                  modality=modality, warnings=list(stack.warnings),
                  dicom_source=_dicom_source(stack, frames, transform))


def _dicom_source(stack: _Stack, frames: list[_Frame], transform: np.ndarray) -> DicomSource:
    if stack.multiframe is not None:
        datasets = [_without_pixels(stack.multiframe)]
        frame_numbers = [int(f.source) + 1 for f in frames]
    else:
        datasets = [_without_pixels(f.header) for f in frames]
        frame_numbers = None
    return DicomSource(
        datasets=datasets, positions=np.array([f.position for f in frames]),
        orientation=np.concatenate([stack.row_cosine, stack.col_cosine]),
        pixel_spacing=stack.pixel_spacing, rows=stack.rows, columns=stack.columns,
        orientation_transform=transform, frame_numbers=frame_numbers, problems=list(stack.problems),
    )


def _without_pixels(ds: Dataset | None) -> Dataset:
    """The header only: results reference the slices; their pixels are already in the Volume.

    Values pydicom deferred (large private blobs, overlays) are dropped too: they would be read
    from the file later, and a ZIP's files are gone once the series is loaded.
    """
    if ds is None:
        return Dataset()
    for tag in _PIXEL_TAGS:
        if tag in ds:
            delattr(ds, tag)
    for tag in list(ds.keys()):
        element = ds.get_item(tag, keep_deferred=True)
        if getattr(element, "is_raw", False) and element.value is None and element.length:
            del ds[tag]
    return ds


def _interpolate(block: np.ndarray, regrid: _Regrid) -> np.ndarray:
    """Slices at ``regrid.grid`` depths, linear between the two source slices around each."""
    depths = regrid.depths
    below = np.clip(np.searchsorted(depths, regrid.grid, side="right") - 1, 0, len(depths) - 2)
    weight = np.clip((regrid.grid - depths[below]) / (depths[below + 1] - depths[below]), 0.0, 1.0)
    out = np.empty((len(regrid.grid), *block.shape[1:]), dtype=block.dtype)
    for i, (j, w) in enumerate(zip(below, weight, strict=True)):
        value = block[j] * (1.0 - w) + block[j + 1] * w
        out[i] = np.rint(value) if np.issubdtype(block.dtype, np.integer) else value
    return out


def _narrow(data: np.ndarray) -> np.ndarray:
    """int32 HU back to int16 when it fits (halves memory for every later stage)."""
    if data.dtype == np.int32 and data.size:
        lo, hi = int(data.min()), int(data.max())
        if np.iinfo(np.int16).min <= lo and hi <= np.iinfo(np.int16).max:
            return data.astype(np.int16)
    return data


def _rescale(item) -> tuple[float, float]:
    slope = float(item.get("RescaleSlope", 1) or 1)
    intercept = float(item.get("RescaleIntercept", 0) or 0)
    return slope, intercept


# --- a series of files -----------------------------------------------------------------------


def load_series(directory: Path, *, max_uncompressed_bytes: int) -> Volume:
    """Load the largest image series found anywhere under ``directory``."""
    headers, without_pixels = _scan_directory(directory)
    if not headers:
        if without_pixels:
            raise _no_pixels(without_pixels[0])
        raise InputError(
            "No DICOM images were found in the upload; upload a folder or ZIP of the series' "
            "DICOM files.",
            code="no_dicom_found",
        )
    groups = _group_series(headers)
    best_key = max(groups, key=lambda key: (_group_size(groups[key]), str(key)))
    best = groups[best_key]
    warnings = []
    if len(groups) > 1:
        sizes = sorted((_group_size(g) for g in groups.values()), reverse=True)
        warnings.append(
            f"The upload contains {len(groups)} different image series ({', '.join(map(str, sizes))} "
            f"slices); only the largest, with {_group_size(best)} slices, was used."
        )
    if len(best) == 1 and int(best[0][1].get("NumberOfFrames", 1) or 1) > 1:
        volume = load_multiframe(best[0][0], max_uncompressed_bytes=max_uncompressed_bytes)
    else:
        volume = _series_volume(best, max_uncompressed_bytes, _tilted_siblings(best_key, groups))
    volume.warnings[:0] = warnings
    return volume


def _tilted_siblings(best_key, groups) -> list[str]:
    """A problem when other slices of the chosen series lie in other planes (not parallel)."""
    if best_key[0] == "multiframe":
        return []
    tilted = sum(len(g) for key, g in groups.items()
                 if key != best_key and key[0] == best_key[0] and key[1:3] == best_key[1:3])
    if not tilted:
        return []
    return [f"{tilted} slices of the same series are not parallel to the others (a different "
            "ImageOrientationPatient), so the series has no single slice stack"]


def _scan_directory(directory: Path):
    headers: list[tuple[Path, Dataset]] = []
    without_pixels: list[Path] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()):
        if any(part.startswith(".") or part == "__MACOSX" for part in path.relative_to(directory).parts):
            continue
        ds = read_header(path)
        if ds is None:
            continue
        if has_pixels(ds):
            headers.append((path, ds))
        else:
            without_pixels.append(path)
    return headers, without_pixels


def _group_series(headers):
    """Group by series and by image grid (a series may hold localisers of another size)."""
    groups: dict[tuple, list[tuple[Path, Dataset]]] = defaultdict(list)
    for path, ds in headers:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if frames > 1:
            key = ("multiframe", str(ds.get("SOPInstanceUID", path.name)))
        else:
            iop = ds.get("ImageOrientationPatient")
            iop_key = tuple(round(float(v), 3) for v in iop) if iop is not None else None
            key = (str(ds.get("SeriesInstanceUID", "")), int(ds.get("Rows", 0)), int(ds.get("Columns", 0)), iop_key)
        groups[key].append((path, ds))
    return groups


def _group_size(group) -> int:
    if len(group) == 1:
        return int(group[0][1].get("NumberOfFrames", 1) or 1)
    return len(group)


def _series_volume(group, max_bytes: int, problems: list[str] = ()) -> Volume:
    first_path, first = group[0]
    name = first_path.name
    row, col = _orientation(first.get("ImageOrientationPatient"), name)
    frames = []
    for path, ds in group:
        slope, intercept = _rescale(ds)
        frames.append(_Frame(source=path, position=_position(ds.get("ImagePositionPatient"), path.name),
                             slope=slope, intercept=intercept, instance=int(ds.get("InstanceNumber", 0) or 0),
                             header=ds))
    stack = _Stack(frames=frames, row_cosine=row, col_cosine=col,
                   pixel_spacing=_pixel_spacing(first.get("PixelSpacing"), name),
                   rows=int(first.Rows), columns=int(first.Columns), problems=list(problems))
    frames_of_reference = {str(ds.get("FrameOfReferenceUID", "") or "") for _, ds in group}
    if len(frames_of_reference) > 1:
        stack.problems.append(
            f"the slices belong to {len(frames_of_reference)} different frames of reference "
            "(FrameOfReferenceUID), so they share no single coordinate system"
        )

    def pixels_of(frame: _Frame) -> np.ndarray:
        # Re-read each file whole so decoded pixel data never pile up in the header cache.
        return decode_pixels(read_full(frame.source), frame.source.name)

    return _to_volume(stack, pixels_of, modality=_modality(first), source_format="dicom-series",
                      max_bytes=max_bytes)


def _modality(ds: Dataset) -> str | None:
    value = str(ds.get("Modality", "") or "").strip().upper()
    return value or None


# --- one multi-frame file ----------------------------------------------------------------------


def load_multiframe(path: Path, *, max_uncompressed_bytes: int) -> Volume:
    """Enhanced CT/MR (per-frame functional groups) or classic multi-frame with a slice step."""
    ds = read_full(path)
    if not has_pixels(ds):
        raise _no_pixels(path)
    n = int(ds.get("NumberOfFrames", 1) or 1)
    if n < 2:
        raise InputError(
            f"{path.name!r} is a single DICOM slice (2D); upload the whole series as a folder or ZIP, "
            "or use tumour classification for one slice.",
            code="not_3d",
        )
    check_size(n * int(ds.Rows) * int(ds.Columns) * 4, max_uncompressed_bytes, f"{path.name!r}")
    if "PerFrameFunctionalGroupsSequence" in ds:
        stack = _enhanced_stack(ds, n, path.name)
    else:
        stack = _classic_stack(ds, n, path.name)
    pixels = decode_pixels(ds, path.name)
    if pixels.ndim != 3 or pixels.shape[0] != n:
        raise InputError(
            f"{path.name!r} decodes to pixel data of shape {pixels.shape}, not {n} grey frames; "
            "colour multi-frame images are not scans.",
            code="unsupported_dicom",
        )
    stack.multiframe = ds
    return _to_volume(stack, lambda frame: pixels[frame.source], modality=_modality(ds),
                      source_format="dicom-multiframe", max_bytes=max_uncompressed_bytes)


def _functional_item(ds: Dataset, index: int, sequence: str):
    """A functional-group macro from the frame's own groups, else from the shared groups."""
    for groups in (ds.PerFrameFunctionalGroupsSequence[index], _shared(ds)):
        items = getattr(groups, sequence, None) if groups is not None else None
        if items:
            return items[0]
    return None


def _shared(ds: Dataset):
    seq = ds.get("SharedFunctionalGroupsSequence")
    return seq[0] if seq else None


def _enhanced_stack(ds: Dataset, n: int, name: str) -> _Stack:
    if len(ds.PerFrameFunctionalGroupsSequence) != n:
        raise _missing_geometry(name, "PerFrameFunctionalGroupsSequence")
    orientation = _functional_item(ds, 0, "PlaneOrientationSequence")
    measures = _functional_item(ds, 0, "PixelMeasuresSequence")
    if orientation is None or measures is None:
        raise _missing_geometry(name, "PlaneOrientationSequence/PixelMeasuresSequence")
    row, col = _orientation(orientation.get("ImageOrientationPatient"), name)
    frames = []
    tilted = 0
    for i in range(n):
        own = _functional_item(ds, i, "PlaneOrientationSequence")
        if own is not None and own is not orientation:
            frame_row, frame_col = _orientation(own.get("ImageOrientationPatient"), name)
            tilted += not (np.allclose(frame_row, row, atol=1e-3) and np.allclose(frame_col, col, atol=1e-3))
        plane = _functional_item(ds, i, "PlanePositionSequence")
        if plane is None:
            raise _missing_geometry(name, "PlanePositionSequence")
        transform = _functional_item(ds, i, "PixelValueTransformationSequence")
        slope, intercept = _rescale(transform if transform is not None else ds)
        frames.append(_Frame(source=i, position=_position(plane.get("ImagePositionPatient"), name),
                             slope=slope, intercept=intercept, instance=i))
    problems = [f"{tilted} frames are not parallel to the first (a different "
                "ImageOrientationPatient), so the frames form no single slice stack"] if tilted else []
    return _Stack(frames=frames, row_cosine=row, col_cosine=col,
                  pixel_spacing=_pixel_spacing(measures.get("PixelSpacing"), name),
                  rows=int(ds.Rows), columns=int(ds.Columns), problems=problems)


def _classic_stack(ds: Dataset, n: int, name: str) -> _Stack:
    row, col = _orientation(ds.get("ImageOrientationPatient"), name)
    origin = _position(ds.get("ImagePositionPatient"), name)
    normal = np.cross(row, col)
    offsets = _frame_offsets(ds, n, name)
    slope, intercept = _rescale(ds)
    frames = [_Frame(source=i, position=origin + offsets[i] * normal, slope=slope, intercept=intercept, instance=i)
              for i in range(n)]
    return _Stack(frames=frames, row_cosine=row, col_cosine=col,
                  pixel_spacing=_pixel_spacing(ds.get("PixelSpacing"), name),
                  rows=int(ds.Rows), columns=int(ds.Columns))


def _frame_offsets(ds: Dataset, n: int, name: str) -> np.ndarray:
    """Frame distances along the normal: GridFrameOffsetVector, else a constant slice step."""
    grid = ds.get("GridFrameOffsetVector")
    if grid is not None and len(grid) == n:
        return np.array([float(v) for v in grid])
    for tag in ("SpacingBetweenSlices", "SliceThickness"):
        value = ds.get(tag)
        if value is not None and str(value).strip() != "":
            step = float(value)
            if not np.isfinite(step) or step <= 0:
                raise InvalidGeometryError(
                    f"{name!r} has {tag} {step:g}: zero, negative or not a number. Re-export the "
                    "scan with its real slice spacing."
                )
            return np.arange(n) * step
    raise _missing_geometry(name, "SpacingBetweenSlices")
