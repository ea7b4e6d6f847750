"""Real files generated for tests: PDFs, images and DICOM, never fixtures on disk."""

import io

from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pypdf import PdfWriter

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


def pdf_bytes(pages=3, password=None):
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if password:
        writer.encrypt(user_password=password, owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_bytes(fmt, size=(64, 48)):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def dicom_bytes(preamble=True):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MR_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.StudyDate = "20240115"
    ds.StudyDescription = "MRI LUMBAR SPINE"
    ds.Rows = 256
    ds.Columns = 192
    out = io.BytesIO()
    if preamble:
        ds.save_as(out, enforce_file_format=True)
    else:
        # Just the dataset, no preamble or "DICM": how some old systems export.
        ds.save_as(out, implicit_vr=False, little_endian=True)
    return out.getvalue()


def noisy_pdf_bytes(side=700) -> bytes:
    """A real one-page PDF of a few hundred KB (a noisy image compresses badly): for progress."""
    import os

    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PDF", quality=95)
    return out.getvalue()


def dicom_image_bytes(side=64) -> bytes:
    """A DICOM MR image with real 16-bit pixel data (a gradient), for the packet's frame."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MR_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.StudyDate = "20261120"
    ds.StudyDescription = "MRI THORACOLUMBAR SPINE"
    ds.Rows = side
    ds.Columns = side
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = b"".join(
        ((x * 64 + y * 8) % 4096).to_bytes(2, "little") for y in range(side) for x in range(side)
    )
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
