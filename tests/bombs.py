"""Decompression bombs built at test time, streamed to disk (never held in memory)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import CTImageStorage, DeflatedExplicitVRLittleEndian, generate_uid

_ZEROS = bytes(16 * 1024**2)


def _zero_block() -> bytes:
    """16 MiB of zeros deflated, ending on a full flush (byte-aligned, no back-references)."""
    global _BLOCK
    if _BLOCK is None:
        deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        _BLOCK = deflate.compress(_ZEROS) + deflate.flush(zlib.Z_FULL_FLUSH)
    return _BLOCK


_BLOCK: bytes | None = None


def write_deflated_dicom_bomb(path: Path, inflated_bytes: int = 2 * 1024**3, *, rows: int = 256,
                              columns: int = 256) -> Path:
    """A single-frame CT slice (rows x columns, 16 bit) in Deflated Explicit VR Little Endian
    whose Pixel Data element really holds ``inflated_bytes`` of zeros (~1000:1 on disk)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "CT", "bomb"
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 0], [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [1, 1], 1
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    header = DicomBytesIO()
    header.is_little_endian, header.is_implicit_VR = True, False
    write_dataset(header, ds)
    length = inflated_bytes - len(header.getvalue()) - 12
    length -= length % 2
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    with path.open("wb") as fh:
        fh.write(b"\x00" * 128 + b"DICM")
        write_file_meta_info(fh, meta, enforce_standard=True)
        fh.write(deflate.compress(header.getvalue()))
        fh.write(deflate.compress(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, length)))
        # after a full flush the stream no longer refers back, so one compressed block repeats
        fh.write(deflate.flush(zlib.Z_FULL_FLUSH))
        blocks, rest = divmod(length, len(_ZEROS))
        for _ in range(blocks):
            fh.write(_zero_block())
        fh.write(deflate.compress(_ZEROS[:rest]) + deflate.flush())
    return path
