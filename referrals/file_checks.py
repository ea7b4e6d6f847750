"""What an uploaded file really is, and whether we keep it (SPEC section 6).

The type is decided by the file's content alone: magic bytes pick a candidate, then the matching
parser must succeed. Names and browser content types are never trusted, because both are chosen
by the sender. Every refusal is a DocumentRejected whose message a GP can act on.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import math
import os
import re
import struct
import threading
import unicodedata
import warnings
from dataclasses import dataclass, field

import pydicom
from django.conf import settings
from PIL import Image, ImageFile

from referrals.packets import warm

ACCEPTED_DESCRIPTION = "PDF, JPEG, PNG or DICOM (.dcm)"

MB = 1024 * 1024
DEFAULT_MAX_BYTES = 100 * MB
# Roughly Pillow's own default (89.5 megapixels); stated here so the limit doesn't move silently
# if a library upgrade or another module changes Image.MAX_IMAGE_PIXELS.
MAX_IMAGE_PIXELS = 90_000_000
CHUNK_SIZE = MB
HEAD_SIZE = 1024
DISPLAY_NAME_LIMIT = 150

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
PDF_SIGNATURE = b"%PDF-"
DICOM_MAGIC_OFFSET = 128
DICOM_MAGIC = b"DICM"
# A DICOM file without the 128-byte preamble starts with its first element, which in practice
# belongs to group 0002 (file meta) or 0008 (identification), little endian. Only such files
# are worth handing to pydicom's lenient force=True reader.
PREAMBLELESS_DICOM_STARTS = (b"\x02\x00", b"\x08\x00")
# Containers and programs. A ZIP storing a PDF has "%PDF-" in its first kilobyte and pypdf's
# lenient reader will open it, so these are refused before any signature of ours is looked for.
# ZIP (also DOCX, JAR), ELF, Windows and Mac programs, scripts, gzip, RAR, 7z, old Office (OLE).
FOREIGN_SIGNATURES = (
    *(b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", b"\x7fELF", b"MZ", b"\xca\xfe\xba\xbe"),
    *(b"\xcf\xfa\xed\xfe", b"#!", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf\x27\x1c", b"\xd0\xcf\x11\xe0"),
)
# HTML that a browser would run if it ever took the file for a web page. A file that is both a
# PDF (or image) and a web page is a polyglot made to slip past type checks; real PDFs, JPEGs and
# PNGs don't carry these tags in their first or last kilobyte. (XMP metadata uses prefixed
# tags such as <dc:title>, which this doesn't match.)
MARKUP_RE = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|iframe|frame|frameset|object|embed|applet|svg"
    rb"|meta|link|style|title|img|form|base)[\s/>]",
    re.IGNORECASE,
)
# The elements where pydicom's stop_before_pixels stops: float, double float and pixel data.
PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
# Explicit VR with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2).
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT",
            b"UV"}  # fmt: skip
UNDEFINED_LENGTH = 0xFFFFFFFF
UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
MODALITY_RE = re.compile(r"^[A-Z0-9_ ]{1,16}$")


class DocumentRejected(Exception):
    """A refusal; `message` says what is wrong and what is accepted, in words for a GP."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class DetectedDocument:
    content_type: str
    extension: str
    size: int
    sha256: str
    pages: int | None = None
    width: int | None = None
    height: int | None = None
    summary: dict = field(default_factory=dict)


def _refuse(problem: str) -> DocumentRejected:
    return DocumentRejected(f"{problem} We accept {ACCEPTED_DESCRIPTION} files.")


def _format_size(n: int, *, round_up: bool = False) -> str:
    # Rounding an oversized file up means it never reads as equal to the limit ("100 MB").
    rnd = math.ceil if round_up else math.floor
    if n >= MB:
        value = rnd(n / MB * 10) / 10
        return f"{value:g} MB"
    if n >= 1024:
        return f"{rnd(n / 1024):d} KB"
    return f"{n} bytes"


def inspect_document(path: str | os.PathLike, *, max_bytes: int) -> DetectedDocument:
    """Identify and check a file on disk; raise DocumentRejected unless it is one we accept."""
    size, digest, head, tail = _measure(path, max_bytes)
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"<"):
        # HTML/SVG/XML could run script if ever served inline; a PDF/HTML polyglot is refused too.
        raise _refuse("This file is a web page or markup (such as HTML or SVG).")
    if head.startswith(FOREIGN_SIGNATURES):
        raise _refuse("This file is an archive or a program, which is not a type we accept.")
    if MARKUP_RE.search(head) or MARKUP_RE.search(tail):
        raise _refuse(
            "This file contains web page code (HTML or script) as well as a document, "
            "so it can't be accepted safely."
        )
    common = {"size": size, "sha256": digest}
    try:
        if head.startswith(PNG_SIGNATURE):
            return _check_image(path, "PNG", "image/png", ".png", common)
        if head.startswith(JPEG_SIGNATURE):
            return _check_image(path, "JPEG", "image/jpeg", ".jpg", common)
        if head[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == DICOM_MAGIC:
            return _check_dicom(path, force=False, common=common)
        if PDF_SIGNATURE in head:
            return _check_pdf(path, tail, common)
        if head.startswith(PREAMBLELESS_DICOM_STARTS):
            return _check_dicom(path, force=True, common=common)
    except DocumentRejected:
        raise
    except Exception as exc:
        # Parsers raise all sorts on hostile input; none of that may escape as a server error.
        raise _refuse("This file is damaged or is not a type we accept.") from exc
    raise _refuse("This file is not a type we accept.")


def _measure(path, max_bytes: int) -> tuple[int, str, bytes, bytes]:
    """Size, SHA-256, first and last HEAD_SIZE bytes, reading in chunks (never whole)."""
    hasher = hashlib.sha256()
    head = b""
    tail = b""
    size = 0
    with open(path, "rb") as fh:
        declared = os.fstat(fh.fileno()).st_size
        if declared > max_bytes:
            raise _too_large(declared, max_bytes)
        while chunk := fh.read(CHUNK_SIZE):
            size += len(chunk)
            if size > max_bytes:  # the file grew after fstat; still never read past the limit
                raise _too_large(size, max_bytes)
            hasher.update(chunk)
            if len(head) < HEAD_SIZE:
                head += chunk[: HEAD_SIZE - len(head)]
            tail = (tail + chunk)[-HEAD_SIZE:]
    if size == 0:
        raise _refuse("This file is empty.")
    return size, hasher.hexdigest(), head, tail


def format_count(n: int) -> str:
    """20000 as "20 000": thousands set apart with a space, as Australian style guides do."""
    return f"{n:,}".replace(",", " ")


def _too_large(size: int, max_bytes: int) -> DocumentRejected:
    return _refuse(
        f"This file is {_format_size(size, round_up=True)}; "
        f"the limit is {_format_size(max_bytes)} a file."
    )


def _check_pdf(path, tail: bytes, common: dict) -> DetectedDocument:
    broken = "This PDF is damaged or incomplete, so it can't be opened."
    # pypdf's lenient mode rebuilds a missing cross-reference table, which would let a file cut
    # off mid-upload through; a complete PDF always ends with %%EOF.
    if b"%%EOF" not in tail:
        raise _refuse(broken)
    # pypdf runs in a child process with memory, CPU and time limits: a few hundred bytes of
    # nested object streams can cost it minutes and gigabytes, which must not happen in a web
    # request. Only the structure is read there; page content is inflated by the packet worker.
    result = warm.inspect_pdf(path)
    if not result.get("ok"):
        problem = result.get("problem")
        if problem == "password":
            raise _refuse(
                "This PDF is password-protected, so we can't open it. "
                "Please upload a copy without a password."
            )
        if problem == "limits":
            raise _refuse(
                "This PDF is too complex to check safely (it may be damaged, or built to "
                "overload a PDF reader). Please save or print it as a new PDF and upload that."
            )
        if problem == "unavailable":
            raise _refuse("We couldn't check this PDF just now; please try again in a minute.")
        raise _refuse(broken)
    pages = result.get("pages")
    if not isinstance(pages, int) or pages < 1:
        raise _refuse("This PDF has no pages.")
    if pages > settings.DOCUMENT_MAX_PAGES:
        raise _refuse(
            f"This PDF has {format_count(pages)} pages; the limit is "
            f"{format_count(settings.DOCUMENT_MAX_PAGES)} pages a document. "
            "Please send the pages that matter for this referral."
        )
    return DetectedDocument("application/pdf", ".pdf", pages=pages, **common)


class _StrictDecoding:
    """Turn Pillow's LOAD_TRUNCATED_IMAGES off for a decode, then restore it (one at a time)."""

    def __init__(self):
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        self._previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False

    def __exit__(self, *exc):
        ImageFile.LOAD_TRUNCATED_IMAGES = self._previous
        self._lock.release()


_STRICT_DECODING = _StrictDecoding()


def _check_image(path, fmt: str, content_type: str, ext: str, common: dict) -> DetectedDocument:
    broken = f"This {fmt} image is damaged or incomplete, so it can't be opened."
    too_big = (
        f"This image is too large to process (over {MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
    )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice its limit; treat that as a refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # formats= pins the decoder to the one the magic bytes chose.
            with Image.open(path, formats=[fmt]) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise _refuse(too_big)
                img.verify()  # checks structure/CRCs without decoding
            # verify() leaves the image unusable, so re-open to decode every pixel. WeasyPrint
            # sets Pillow's global LOAD_TRUNCATED_IMAGES on import, which would let a cut-off
            # file through: decode with it off.
            with _STRICT_DECODING, Image.open(path, formats=[fmt]) as img:
                img.load()
    except DocumentRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(too_big) from exc
    except Exception as exc:
        raise _refuse(broken) from exc
    if width < 1 or height < 1:
        raise _refuse(broken)
    return DetectedDocument(content_type, ext, width=width, height=height, **common)


def _check_dicom(path, *, force: bool, common: dict) -> DetectedDocument:
    unreadable = "This DICOM file is damaged or incomplete, so it can't be read."
    try:
        with warnings.catch_warnings(), open(path, "rb") as handle:
            # Hostile or odd files make pydicom warn per element; the verdict is what matters.
            warnings.simplefilter("ignore")
            # defer_size keeps large non-pixel values on disk until (if ever) they are used.
            ds = pydicom.dcmread(handle, stop_before_pixels=True, force=force, defer_size="1 MB")
            # pydicom reads a cut-off value short without a word, so check the lengths.
            if _dicom_truncated(ds, handle, common["size"]):
                raise _refuse(unreadable)
            sop_class = str(ds.get("SOPClassUID", "") or "").strip()
            meta = getattr(ds, "file_meta", None)
            if not sop_class and meta is not None:
                sop_class = str(meta.get("MediaStorageSOPClassUID", "") or "").strip()
            modality = str(ds.get("Modality", "") or "").strip()
            rows, cols = ds.get("Rows"), ds.get("Columns")
            description = str(ds.get("StudyDescription", "") or "")
            study_date = str(ds.get("StudyDate", "") or "").strip()
    except DocumentRejected:
        raise
    except Exception as exc:
        raise _refuse(unreadable) from exc
    # force=True will "read" almost anything, so require what every real DICOM object carries.
    if not (UID_RE.match(sop_class) or MODALITY_RE.match(modality)):
        raise _refuse(unreadable)
    summary = {}
    if MODALITY_RE.match(modality):
        summary["modality"] = modality
    try:
        summary["study_date"] = datetime.datetime.strptime(study_date, "%Y%m%d").date().isoformat()
    except ValueError:
        pass
    description = _clean_text(description)[:200]
    if description:
        summary["description"] = description
    return DetectedDocument(
        "application/dicom",
        ".dcm",
        width=_positive_int(cols),
        height=_positive_int(rows),
        summary=summary,
        **common,
    )


def _dicom_truncated(ds, handle, size: int) -> bool:
    """Whether any element read, or the pixel data after them, runs past the end of the file.

    Must run before any value is accessed: only raw elements still carry where they were read.
    `handle` is where stop_before_pixels left it, at the pixel data's header if there is one.
    """
    meta = getattr(ds, "file_meta", None)
    elements = itertools.chain(meta.elements() if meta is not None else (), ds.elements())
    for element in elements:
        start, length = getattr(element, "value_tell", None), getattr(element, "length", None)
        if start is not None and length is not None and length != UNDEFINED_LENGTH:
            if start + length > size:
                return True
    header = handle.read(12)
    if len(header) < 8:
        return False
    implicit, little = getattr(ds, "original_encoding", (None, None))
    order = "<" if little is not False else ">"
    group, element = struct.unpack(f"{order}HH", header[:4])
    if (group << 16 | element) not in PIXEL_TAGS:
        return False
    if implicit is False and header[4:6] in LONG_VRS:
        if len(header) < 12:
            return True
        header_size, length = 12, struct.unpack(f"{order}I", header[8:12])[0]
    elif implicit is False:
        header_size, length = 8, struct.unpack(f"{order}H", header[6:8])[0]
    else:
        header_size, length = 8, struct.unpack(f"{order}I", header[4:8])[0]
    if length == UNDEFINED_LENGTH:
        return False  # encapsulated (compressed) frames: the packet worker reads those
    return handle.tell() - len(header) + header_size + length > size


def _positive_int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _clean_text(text: str) -> str:
    """Whitespace runs become one space; control, format (e.g. bidi override) characters go."""
    text = re.sub(r"\s+", " ", text)
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    # Again after the removal, which can bring spaces together or a letter to its accent.
    text = unicodedata.normalize("NFC", re.sub(r"\s+", " ", text))
    return text.strip()


# What a name may end in for each detected type; anything else gets the right extension added.
NAME_EXTENSIONS = {
    ".pdf": (".pdf",),
    ".jpg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    ".png": (".png",),
    ".dcm": (".dcm", ".dicom", ""),  # a DICOM file often has no extension at all
}


def safe_display_name(name: str, *, fallback: str = "document", extension: str = "") -> str:
    """The original file name made safe to show and to put in Content-Disposition.

    No path (either separator), no control or format characters, no leading dots, no ".."
    anywhere, at most DISPLAY_NAME_LIMIT characters, never empty. Given the detected type's
    `extension` (e.g. ".pdf"), a name that claims another type ("scan.pdf.exe") gets the real
    one added ("scan.pdf.exe.pdf"), so a downloaded copy opens in the right program.
    """
    # Browsers on Windows have sent full paths; either separator may appear whatever the OS.
    base = re.split(r"[/\\]", name or "")[-1]
    base = re.sub(r"\.{2,}", ".", _clean_text(base)).lstrip(". ").rstrip(" ") or fallback
    if extension:
        allowed = NAME_EXTENSIONS.get(extension.lower(), (extension.lower(),))
        _stem, current = os.path.splitext(base)
        if current.lower() not in allowed:
            base = base.rstrip(".") + extension
    if len(base) > DISPLAY_NAME_LIMIT:
        stem, ext = os.path.splitext(base)
        if not ext or len(ext) > 16:  # not a real extension; don't let it eat the name
            stem, ext = base, ""
        base = stem[: DISPLAY_NAME_LIMIT - len(ext)].rstrip(" .") + ext
    return base or fallback


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file on disk, read in chunks (never whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
