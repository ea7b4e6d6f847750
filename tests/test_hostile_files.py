"""Hostile files (SPEC sections 6 and 8): each is generated here, posted through the real upload
view as the owner of a draft, and either refused at upload (400, a message that says what is
accepted, nothing on disk, no Attachment) or accepted as its real type under a safe name and then
handled by the packet worker within a time and memory bound, never hanging or failing it.
"""

import html
import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from referrals.file_checks import (
    ACCEPTED_DESCRIPTION,
    DocumentRejected,
    inspect_document,
    safe_display_name,
)
from referrals.models import Attachment
from referrals.packets import sandbox as prepare
from referrals.packets.build import build_packet
from referrals.packets.parts import attachments_prepare
from tests.factories import make_referral
from tests.files import (
    assemble_pdf,
    attachment_pdf,
    dicom_bytes,
    dicom_image_bytes,
    dicom_with_preamble,
    flate_bomb_pdf,
    form_pdf,
    image_bomb_pdf,
    image_bytes,
    jpeg_claiming,
    linked_pdf,
    many_pages_pdf,
    media_pdf,
    object_stream_bomb_pdf,
    one_page_objects,
    owner_locked_pdf,
    page_actions_pdf,
    pdf_bytes,
    pe_stub,
    png_header_only,
    scripted_pdf,
    zip_bytes,
)

MAX = 100 * 1024 * 1024
NOT_INCLUDED = "Too large to include safely: not included."


@pytest.fixture
def draft(client, referrer, private_media):
    """A draft owned by the signed-in GP, with uploads under a temporary folder."""
    client.force_login(referrer)
    return make_referral(referrer)


def pdf_text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def upload_url(referral) -> str:
    return reverse("attachment_upload", args=[referral.uuid])


def post(client, referral, name, data):
    return client.post(
        upload_url(referral),
        {"kind": "clinical_notes", "file": SimpleUploadedFile(name, data)},
    )


def post_raw_name(client, referral, raw_name: bytes, data: bytes):
    """A multipart body written by hand: SimpleUploadedFile and the test client both reduce the
    name to its basename, and a hostile browser doesn't."""
    boundary = b"hostile-boundary-7MA4YWxkTrZu0gW"
    body = b"".join(
        [
            b"--%s\r\n" % boundary,
            b'Content-Disposition: form-data; name="kind"\r\n\r\nclinical_notes\r\n',
            b"--%s\r\n" % boundary,
            b'Content-Disposition: form-data; name="file"; filename="%s"\r\n' % raw_name,
            b"Content-Type: application/octet-stream\r\n\r\n",
            data,
            b"\r\n--%s--\r\n" % boundary,
        ]
    )
    return client.generic(
        "POST",
        upload_url(referral),
        body,
        content_type=f"multipart/form-data; boundary={boundary.decode()}",
    )


def stored_files(root) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


def refused_page(response) -> str:
    """A refused upload redirects back (post/redirect/get); the page it leads to says why."""
    assert response.status_code == 302
    return html.unescape(response.client.get(response.url).content.decode())


def assert_refused(response, referral, media_root, says: str) -> str:
    page = refused_page(response)
    assert says in page
    assert f"We accept {ACCEPTED_DESCRIPTION} files." in page
    assert not Attachment.objects.filter(referral=referral).exists()
    assert stored_files(media_root) == []
    return page


def assert_safe_name(name: str) -> None:
    assert name
    assert "\x00" not in name and "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith(".")
    assert all(ch.isprintable() for ch in name)


def assert_accepted(response, referral, content_type: str) -> Attachment:
    assert response.status_code == 302, html.unescape(response.content.decode())[-3000:]
    attachment = Attachment.objects.get(referral=referral)
    assert attachment.content_type == content_type
    assert_safe_name(attachment.original_name)
    assert os.path.exists(attachment.file.path)
    return attachment


# --- refused at upload ----------------------------------------------------------------------------

PDF_HTML_HEAD = assemble_pdf(
    one_page_objects(),
    header=b"%PDF-1.7\n<html><body><script>alert(document.domain)</script></body></html>\n",
)

REFUSED = [
    # A PDF that is also a web page: the HTML sits in a PDF comment right after the header, so
    # pypdf opens it and a browser sniffing the first kilobyte would run the script. Refused:
    # we never need markup inside a document, and a polyglot is made to slip past checks.
    ("pdf-html-head", "referral.pdf", lambda: PDF_HTML_HEAD, "web page code (HTML or script)"),
    # The same with the page appended after %%EOF (still a readable PDF).
    (
        "pdf-html-tail",
        "referral.pdf",
        lambda: pdf_bytes(pages=1) + b"<html><script>alert(1)</script></html>\n",
        "web page code (HTML or script)",
    ),
    # SVG is XML that can carry script; not one of our types whatever its name.
    (
        "svg",
        "spine.svg",
        lambda: (
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
        ),
        "web page or markup",
    ),
    ("svg-named-png", "spine.png", lambda: b"<svg onload='alert(1)'/>", "web page or markup"),
    # HTML renamed .pdf, even with a PDF signature inside it: the content decides, not the name.
    (
        "html-named-pdf",
        "letter.pdf",
        lambda: b"\xef\xbb\xbf  <!DOCTYPE html><html><body>%PDF-1.7 hello</body></html>",
        "web page or markup",
    ),
    # Programs renamed .dcm: a Windows PE and a Linux ELF.
    ("exe-named-dcm", "mri.dcm", pe_stub, "archive or a program"),
    (
        "elf-named-dcm",
        "mri.dcm",
        lambda: b"\x7fELF\x02\x01\x01" + bytes(600),
        "archive or a program",
    ),
    # A real DICOM whose 128-byte preamble starts with "MZ": the same bytes are a Windows program
    # (a PE/DICOM polyglot). The preamble is free for the writer to fill, but a legitimate one is
    # zeros or a TIFF header, never a program, so this is refused.
    ("mz-preamble-dicom", "series.dcm", lambda: dicom_with_preamble(pe_stub(128)), "a program"),
    # Double extension whose content really is a program: refused by content.
    ("double-extension-exe", "report.pdf.exe", pe_stub, "archive or a program"),
    # A ZIP named like a scan (it holds a PDF, which pypdf's lenient reader would find).
    ("zip", "scan.pdf", lambda: zip_bytes({"scan.pdf": pdf_bytes()}), "archive or a program"),
    # Truncated files, as a dropped connection or a broken export leaves them.
    ("truncated-pdf", "notes.pdf", lambda: pdf_bytes(pages=3)[:-40], "This PDF is damaged"),
    (
        "truncated-png",
        "xray.png",
        lambda: image_bytes("PNG", size=(300, 300))[:-30],
        "PNG image is damaged",
    ),
    (
        "truncated-jpeg",
        "xray.jpg",
        lambda: image_bytes("JPEG", size=(300, 300))[:-100],
        "JPEG image is damaged",
    ),
    # Cut inside the DICOM header (pydicom reads a short value without complaint), and cut
    # inside the pixel data (which the upload check doesn't read, but whose length it checks).
    ("truncated-dicom-header", "mri.dcm", lambda: dicom_bytes()[:200], "DICOM file is damaged"),
    (
        "truncated-dicom-pixels",
        "mri.dcm",
        lambda: dicom_image_bytes(64)[:-1000],
        "DICOM file is damaged",
    ),
    # A page tree that contains itself: pypdf's walk detects the cycle.
    (
        "cyclic-page-tree",
        "notes.pdf",
        lambda: assemble_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
            ]
        ),
        "This PDF is damaged",
    ),
    # Page objects in object streams that inflate to 70 MB each: counting the pages means
    # inflating them, which cost an unbounded reader 45 s and 840 MB. The upload check runs in a
    # child with tight limits and refuses it (see the timing test below).
    ("object-stream-bomb", "notes.pdf", object_stream_bomb_pdf, "too complex to check safely"),
    # A JPEG whose frame header claims 65500 x 65500 pixels.
    ("huge-jpeg-header", "xray.jpg", lambda: jpeg_claiming(65500, 65500), "too large to process"),
]


@pytest.mark.parametrize(
    ("name", "make", "says"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_hostile_files_are_refused_at_upload(client, draft, private_media, name, make, says):
    assert_refused(post(client, draft, name, make()), draft, private_media, says)


XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>'
    b"<dc:title><rdf:Alt><rdf:li>MRI report</rdf:li></rdf:Alt></dc:title>"
    b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def jpeg_with_xmp() -> bytes:
    import io

    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(out, format="JPEG", xmp=XMP)
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "content_type"),
    [
        # The files the refusals above were made from, without the hostile part: accepted, so
        # each refusal is down to what was added. XMP metadata (prefixed XML tags) in the first
        # kilobyte is not mistaken for a web page.
        (lambda: assemble_pdf(one_page_objects()), "application/pdf"),
        (
            lambda: assemble_pdf(
                one_page_objects(),
                header=b"%PDF-1.7\n%" + XMP + b"\n",
            ),
            "application/pdf",
        ),
        (jpeg_with_xmp, "image/jpeg"),
        (lambda: dicom_with_preamble(b""), "application/dicom"),
        (lambda: dicom_with_preamble(b"II*\x00\x08\x00\x00\x00"), "application/dicom"),  # TIFF
        (lambda: dicom_image_bytes(64), "application/dicom"),
    ],
)
def test_the_same_files_without_the_hostile_part_are_accepted(tmp_path, make, content_type):
    path = tmp_path / "control"
    path.write_bytes(make())
    assert inspect_document(path, max_bytes=MAX).content_type == content_type


def test_a_png_claiming_100000_by_100000_pixels_is_refused_without_decoding(
    client, draft, private_media, tmp_path
):
    # The header alone says 10 gigapixels (30 GB decoded). The pixel limit is checked on the
    # header, before any decoding, so the refusal is immediate and costs no memory.
    data = png_header_only(100_000, 100_000)
    path = tmp_path / "huge.png"
    path.write_bytes(data)
    started = time.monotonic()
    with pytest.raises(DocumentRejected, match="too large to process"):
        inspect_document(path, max_bytes=MAX)
    assert time.monotonic() - started < 2
    started = time.monotonic()
    response = post(client, draft, "spine.png", data)
    assert time.monotonic() - started < 2
    assert_refused(response, draft, private_media, "too large to process (over 90 megapixels)")


def test_the_object_stream_bomb_is_refused_quickly_and_in_bounded_memory(tmp_path):
    path = tmp_path / "bomb.pdf"
    path.write_bytes(object_stream_bomb_pdf(pages=10, megabytes=70))
    started = time.monotonic()
    with pytest.raises(DocumentRejected, match="too complex to check safely"):
        inspect_document(path, max_bytes=MAX)
    # pypdf runs in a child capped at UPLOAD_STREAM_LIMIT a stream: refused at the first page.
    assert time.monotonic() - started < 3


def test_a_smaller_object_stream_bomb_is_stopped_by_the_upload_childs_cpu_limit(
    tmp_path, monkeypatch
):
    # Each object stream inflates to 6 MB, under the stream limit; pypdf then spends about half
    # a second of CPU on each (it reads the padding a byte at a time). The child's CPU limit
    # ends it: the web request gets a refusal, not a hang.
    monkeypatch.setattr(prepare, "UPLOAD_CPU_SECONDS", 1)
    path = tmp_path / "bomb.pdf"
    path.write_bytes(object_stream_bomb_pdf(pages=40, megabytes=6))
    started = time.monotonic()
    with pytest.raises(DocumentRejected, match="too complex to check safely"):
        inspect_document(path, max_bytes=MAX)
    assert time.monotonic() - started < 5


def test_the_upload_childs_timeout_also_refuses(tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "UPLOAD_TIMEOUT", 0.5)
    path = tmp_path / "bomb.pdf"
    path.write_bytes(object_stream_bomb_pdf(pages=40, megabytes=6))
    started = time.monotonic()
    with pytest.raises(DocumentRejected, match="too complex to check safely"):
        inspect_document(path, max_bytes=MAX)
    assert time.monotonic() - started < 3


# --- accepted at upload, under a safe name --------------------------------------------------------


def jpeg_with_zip() -> bytes:
    return image_bytes("JPEG", size=(200, 150)) + zip_bytes(
        {"payload.html": b"<script>alert(1)</script>" * 20, "payload.exe": pe_stub()}
    )


def test_a_jpeg_with_a_zip_appended_is_accepted_and_the_packet_re_encodes_it(
    client, draft, private_media, tmp_path
):
    # A valid JPEG: decoders stop at its end marker, and the bytes after it are never executed
    # (the file is only ever served as image/jpeg, as an attachment, with nosniff). The packet
    # holds a JPEG re-encoded from the pixels, so the appended archive never reaches the IR.
    response = post(client, draft, "spine.jpg", jpeg_with_zip())
    attachment = assert_accepted(response, draft, "image/jpeg")
    assert attachment.original_name == "spine.jpg"
    started = time.monotonic()
    results = prepare.prepare_documents(
        [
            {
                "id": "j",
                "path": attachment.file.path,
                "content_type": "image/jpeg",
                "out": str(tmp_path / "j"),
            }
        ]  # fmt: skip
    )
    assert time.monotonic() - started < 30
    result = results["j"]
    assert result["ok"] and (result["width"], result["height"]) == (200, 150)
    image = Path(result["image"]).read_bytes()
    assert b"PK\x03\x04" not in image and b"<script>" not in image
    with Image.open(result["image"]) as img:
        assert img.format == "JPEG"
    # And the part the packet appends carries no trace of it either.
    attachments_prepare([attachment])
    part = Path(attachment.part.path).read_bytes()
    assert attachment.part_status == "ready" and attachment.part_pages == 1
    assert b"PK\x03\x04" not in part and b"payload" not in part


@pytest.mark.parametrize(
    ("name", "make", "content_type"),
    [
        # The content decides the type; the name is only shown. A real PDF called .pdf.exe is a
        # PDF, served as application/pdf (as an attachment, with nosniff).
        ("report.pdf.exe", lambda: pdf_bytes(pages=1), "application/pdf"),
        ("photo.php.jpg", lambda: image_bytes("JPEG"), "image/jpeg"),
        ("scan.png.pdf", lambda: image_bytes("PNG"), "image/png"),
        ("notes..pdf", lambda: pdf_bytes(pages=1), "application/pdf"),
    ],
)
def test_double_extensions_are_typed_by_content_under_a_safe_name(
    client, draft, name, make, content_type
):
    attachment = assert_accepted(post(client, draft, name, make()), draft, content_type)
    # The shown name keeps what the doctor called it, with the real type's extension added
    # where the name misleads, so a downloaded copy opens in the right program.
    assert attachment.original_name == safe_display_name(name, extension=attachment.extension)


def test_a_double_extension_can_be_given_the_detected_types_extension():
    # For the view's caller: with the detected type, a misleading name gets the real extension,
    # so a downloaded copy opens in the right program; a name that already fits is kept.
    assert safe_display_name("report.pdf.exe", extension=".pdf") == "report.pdf.exe.pdf"
    assert safe_display_name("report.PDF", extension=".pdf") == "report.PDF"
    assert safe_display_name("photo.jpeg", extension=".jpg") == "photo.jpeg"
    assert safe_display_name("series", extension=".dcm") == "series"
    assert safe_display_name("series.exe", extension=".dcm") == "series.exe.dcm"
    assert safe_display_name("..", extension=".pdf") == "document.pdf"
    assert safe_display_name("", extension=".dcm") == "document"


@pytest.mark.parametrize(
    ("raw_name", "expected"),
    [
        (b"notes\x00.exe.pdf", "notes.exe.pdf"),
        (b"../../../../etc/cron.d/notes.pdf", "notes.pdf"),
        (b"..\\..\\Windows\\System32\\notes.pdf", "notes.pdf"),
        (b"..notes..pdf", "notes.pdf"),
        (b"\xe2\x80\xaefdp.exe", "fdp.exe.pdf"),  # a right-to-left override to hide the type
        (b"notes\t\x1b[2J.pdf", "notes[2J.pdf"),  # a tab and a terminal escape
    ],
)
def test_nul_and_path_parts_in_the_name_never_reach_the_stored_name(
    client, draft, private_media, raw_name, expected
):
    response = post_raw_name(client, draft, raw_name, pdf_bytes(pages=1))
    attachment = assert_accepted(response, draft, "application/pdf")
    assert attachment.original_name == expected
    # Stored under a random name inside the media folder, whatever the name said.
    path = Path(attachment.file.path).resolve()
    assert path.is_relative_to(Path(private_media).resolve())
    assert path.name not in (expected, raw_name.decode("utf-8", "replace"))


# --- accepted at upload, handled by the packet worker within bounds -----------------------------


def test_a_nested_flate_bomb_is_accepted_at_upload_and_left_out_of_the_packet(
    client, draft, tmp_path
):
    # 672 bytes whose page content is Flate in Flate in Flate, inflating to 1 GB. The upload
    # check reads only the PDF's structure (page content is never inflated there), so it is
    # accepted quickly; the packet worker inflates it in its child, which stops at its limits.
    # Before the child settled page content, the worker itself inflated it while stamping page
    # numbers and the whole packet failed.
    data = flate_bomb_pdf(megabytes=1024, layers=3)
    started = time.monotonic()
    attachment = assert_accepted(post(client, draft, "bomb.pdf", data), draft, "application/pdf")
    assert time.monotonic() - started < 3
    assert attachment.pages == 1
    good = post(client, draft, "bloods.pdf", pdf_bytes(pages=2))
    assert good.status_code == 302

    output = tmp_path / "packet.pdf"
    started = time.monotonic()
    info = build_packet(draft, output)
    assert time.monotonic() - started < 60
    text = "".join(pdf_text(PdfReader(output)).split())
    assert "bomb.pdf" in text and "".join(NOT_INCLUDED.split()) in text
    assert "bloods.pdf" in text
    assert info["pages"] == info["summary_pages"] + 2  # the good PDF only


def test_a_pdf_with_a_circular_cross_reference_is_accepted_and_included(client, draft, tmp_path):
    # The trailer's /Prev points back at its own cross-reference table, an endless chain for a
    # naive reader. pypdf notices the loop and stops; the one table is complete, so the PDF
    # really does open: accepted, and the packet includes its page.
    data = assemble_pdf(one_page_objects(), prev_self=True)
    started = time.monotonic()
    attachment = assert_accepted(post(client, draft, "loop.pdf", data), draft, "application/pdf")
    assert time.monotonic() - started < 3
    assert attachment.pages == 1

    output = tmp_path / "packet.pdf"
    started = time.monotonic()
    info = build_packet(draft, output)
    assert time.monotonic() - started < 60
    assert info["pages"] == info["summary_pages"] + 1
    assert "loop.pdf" in pdf_text(PdfReader(output))


def test_an_image_bomb_inside_a_pdf_is_accepted_at_upload_and_never_reaches_the_ir(
    client, draft, tmp_path
):
    # The page content is tiny; the image it draws inflates (Flate in Flate) to 1 GB, which
    # would hang the IR's PDF viewer. The worker's child decodes every stream the packet would
    # carry and leaves the document out.
    attachment = assert_accepted(
        post(client, draft, "scan.pdf", image_bomb_pdf(megabytes=1024)), draft, "application/pdf"
    )
    output = tmp_path / "packet.pdf"
    started = time.monotonic()
    info = build_packet(draft, output)
    assert time.monotonic() - started < 60
    assert info["pages"] == info["summary_pages"]
    text = "".join(pdf_text(PdfReader(output)).split())
    assert attachment.original_name in text and "".join(NOT_INCLUDED.split()) in text


# --- the packet worker's bounds, directly -------------------------------------------------------


def item(tmp_path, key: str, data: bytes, content_type: str) -> dict:
    path = tmp_path / f"{key}.upload"
    path.write_bytes(data)
    return {"id": key, "path": str(path), "content_type": content_type, "out": str(tmp_path / key)}


ACCEPTED_AT_UPLOAD = [
    ("jpeg-with-zip", jpeg_with_zip, "image/jpeg", True),
    ("flate-bomb", flate_bomb_pdf, "application/pdf", False),
    ("image-bomb", image_bomb_pdf, "application/pdf", False),
    (
        "circular-xref",
        lambda: assemble_pdf(one_page_objects(), prev_self=True),
        "application/pdf",
        True,
    ),  # fmt: skip
    ("double-extension", lambda: pdf_bytes(pages=1), "application/pdf", True),
]


@pytest.mark.parametrize(
    ("make", "content_type", "included"),
    [case[1:] for case in ACCEPTED_AT_UPLOAD],
    ids=[case[0] for case in ACCEPTED_AT_UPLOAD],
)
def test_the_worker_prepares_each_accepted_hostile_file_within_bounds(
    tmp_path, make, content_type, included
):
    started = time.monotonic()
    results = prepare.prepare_documents([item(tmp_path, "x", make(), content_type)], timeout=60)
    assert time.monotonic() - started < 60
    result = results["x"]
    assert result["ok"] is included
    if not included:
        assert result["note"] == NOT_INCLUDED


def test_a_child_killed_at_its_cpu_limit_costs_only_its_own_file(tmp_path, monkeypatch):
    # Object streams inflating to 70 MB each keep pypdf busy for seconds a page. With a 1 s CPU
    # limit the batch's child is killed (SIGXCPU); each file is then tried in a child of its
    # own, so the good PDF and the photo still make it into the packet.
    monkeypatch.setattr(prepare, "CPU_SECONDS", 1)
    items = [
        item(tmp_path, "good", pdf_bytes(pages=2), "application/pdf"),
        item(tmp_path, "bomb", object_stream_bomb_pdf(pages=10, megabytes=70), "application/pdf"),
        item(tmp_path, "photo", image_bytes("JPEG", size=(120, 80)), "image/jpeg"),
    ]
    started = time.monotonic()
    results = prepare.prepare_documents(items, timeout=60)
    assert time.monotonic() - started < 20
    assert results["bomb"] == {"ok": False, "note": "Could not be read safely: not included."}
    assert results["good"]["ok"] and results["good"]["pages"] == 2
    assert results["photo"]["ok"] and results["photo"]["kind"] == "image"


def test_a_child_past_its_timeout_is_killed_and_costs_only_its_own_file(tmp_path):
    # qpdf (the disarm) reads each 70 MB object stream in about 0.4 s, so 30 of them keep a
    # child busy for about 12 s: past the batch's 6 s and each file's 3 s.
    items = [
        item(tmp_path, "bomb", object_stream_bomb_pdf(pages=30, megabytes=70), "application/pdf"),
        item(tmp_path, "good", pdf_bytes(pages=1), "application/pdf"),
    ]
    started = time.monotonic()
    results = prepare.prepare_documents(items, timeout=6)
    # The batch's 6 s, then up to 3 s for each file on its own.
    assert time.monotonic() - started < 16
    assert results["bomb"] == {"ok": False, "note": "Took too long to read: not included."}
    assert results["good"]["ok"] and results["good"]["pages"] == 1


def test_a_child_out_of_memory_leaves_that_file_out_and_prepares_the_rest(tmp_path, monkeypatch):
    # 160 MB of address space: enough for Python, pypdf and Pillow and a real small file, not
    # for inflating the image bomb, which fails with MemoryError inside the child.
    monkeypatch.setattr(prepare, "MEMORY_LIMIT", 160 * 1024 * 1024)
    items = [
        item(tmp_path, "bomb", image_bomb_pdf(megabytes=1024), "application/pdf"),
        item(tmp_path, "good", pdf_bytes(pages=3), "application/pdf"),
        item(tmp_path, "photo", image_bytes("PNG", size=(64, 64)), "image/png"),
    ]
    started = time.monotonic()
    results = prepare.prepare_documents(items, timeout=60)
    assert time.monotonic() - started < 30
    assert results["bomb"] == {"ok": False, "note": NOT_INCLUDED}
    assert results["good"]["ok"] and results["good"]["pages"] == 3
    assert results["photo"]["ok"]


def test_nested_flate_within_limits_is_included_as_one_plain_flate_stream(tmp_path):
    # Flate in Flate in Flate inflating to 1 MB is odd but harmless: included, and its content
    # is stored again as a single Flate layer the child has already inflated, so stamping the
    # packet in the worker never meets nested filters.
    results = prepare.prepare_documents(
        [item(tmp_path, "p", flate_bomb_pdf(megabytes=1, layers=3), "application/pdf")],
        timeout=60,
    )
    assert results["p"]["ok"] and results["p"]["pages"] == 1
    page = PdfReader(results["p"]["pdf"]).pages[0]
    contents = page["/Contents"].get_object()
    assert contents.get("/Filter") in ("/FlateDecode", ["/FlateDecode"])
    assert len(contents.get_data()) == 1024 * 1024


# --- active content: disarmed on the way into the packet (issue 12) ------------------------------

ACTIVE_KEYS = set(
    "/JS /JavaScript /AA /OpenAction /EmbeddedFiles /EF /AF /XFA /AcroForm /RichMediaContent"
    " /3DD".split()
)
ACTIVE_ACTIONS = set(
    "/JavaScript /Launch /SubmitForm /ImportData /ResetForm /URI /GoToR /GoToE /Rendition"
    " /RichMediaExecute /Movie /Sound".split()
)
ACTIVE_ANNOTATIONS = set("/FileAttachment /RichMedia /3D /Movie /Sound /Screen /Widget".split())


def active_content(reader: PdfReader) -> list[str]:
    """Every trace of active content in the PDF: each object reachable from its trailer is
    visited once (direct objects inside it too), whatever points at it."""
    found, seen, pending = [], set(), [reader.trailer]
    while pending:
        obj = pending.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            found += [key for key in obj if key in ACTIVE_KEYS]
            if obj.get("/S") in ACTIVE_ACTIONS:
                found.append(f"/S {obj['/S']}")
            if obj.get("/Subtype") in ACTIVE_ANNOTATIONS:
                found.append(f"/Subtype {obj['/Subtype']}")
            if obj.get("/Type") == "/EmbeddedFile":
                found.append("/Type /EmbeddedFile")
            pending.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            pending.extend(obj)
    return found


def squashed(text: str) -> str:
    return "".join(text.split())


def packet_of(client, draft, tmp_path, name: str, data: bytes):
    """Upload `data` as the draft's one document and build the packet: (reader, info, index
    text, attachment)."""
    attachment = assert_accepted(post(client, draft, name, data), draft, "application/pdf")
    output = tmp_path / "packet.pdf"
    info = build_packet(draft, output)
    reader = PdfReader(output)
    index = squashed(pdf_text_of(reader, range(info["summary_pages"])))
    attachment.refresh_from_db()
    return reader, info, index, attachment


def pdf_text_of(reader: PdfReader, pages) -> str:
    return "\n".join(reader.pages[n].extract_text() or "" for n in pages)


ACTIVE_PDFS = [
    (
        "scripts",
        scripted_pdf,
        "Scripted letter",
        {"scripts": 5},  # opening, chained after it, two named, closing
        "Active content removed: 5 scripts.",
    ),
    (
        "page-actions",
        page_actions_pdf,
        "Page actions letter",
        {"scripts": 1, "form_actions": 1},
        "Active content removed: 1 script and 1 form action.",
    ),
    (
        "links",
        linked_pdf,
        "Linked letter page one",
        {"scripts": 1, "launches": 1, "links": 2},  # the URI link and the URI bookmark
        "Active content removed: 1 script, 1 command to open a file or program and 2 external"
        " links.",
    ),
    (
        "attachments",
        attachment_pdf,
        "Letter with attachments",
        {"embedded_files": 2},  # the /AF file is the name tree's: counted once
        "Active content removed: 2 embedded files.",
    ),
    (
        "form",
        form_pdf,
        "Joan Sample",  # the field's value, flattened into the page
        {"scripts": 1, "xfa": 1, "form_fields": 1},
        "Active content removed: 1 script, 1 XFA form and 1 form field.",
    ),
    (
        "media",
        media_pdf,
        "Letter with media",
        {"media": 3},
        "Active content removed: 3 video, sound or 3D objects.",
    ),
]


@pytest.mark.parametrize(
    ("make", "text", "removed", "says"),
    [case[1:] for case in ACTIVE_PDFS],
    ids=[case[0] for case in ACTIVE_PDFS],
)
def test_active_content_never_reaches_the_packet_and_the_index_says_what_went(
    client, draft, tmp_path, make, text, removed, says
):
    data = make()
    assert active_content(PdfReader(io.BytesIO(data)))  # the upload really carries it
    reader, info, index, attachment = packet_of(client, draft, tmp_path, "letter.pdf", data)
    assert active_content(reader) == []
    assert attachment.part_status == "ready" and attachment.part_removed == removed
    assert info["pages"] == info["summary_pages"] + len(PdfReader(io.BytesIO(data)).pages)
    documents = range(info["summary_pages"], info["pages"])
    assert text in pdf_text_of(reader, documents)  # its own text is all still there
    assert squashed(says) in index


def test_internal_links_and_bookmarks_are_kept(client, draft, tmp_path):
    reader, info, _index, _attachment = packet_of(
        client, draft, tmp_path, "linked.pdf", linked_pdf()
    )
    first = info["summary_pages"]
    # The GoTo link and the /Dest link to the document's own second page; the links that ran
    # a script, launched a program or opened a web address are gone.
    links = [a.get_object() for a in reader.pages[first]["/Annots"]]
    targets = [(link["/A"]["/D"] if "/A" in link else link["/Dest"])[0] for link in links]
    assert [reader.get_page_number(t.get_object()) for t in targets] == [first + 1, first + 1]
    # The document's bookmark, and under it its own: "Results" still goes to its page 2.
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert titles == ["Referral summary", "Clinical notes: linked.pdf"]
    document = [n for n, item in enumerate(reader.outline) if not isinstance(item, list)][1]
    nested = reader.outline[document + 1]
    assert [item.title for item in nested] == ["Results"]  # "Portal" lost its web address
    assert reader.get_destination_page_number(nested[0]) == first + 1


def test_a_pdf_locked_by_an_owner_password_is_included_unlocked_and_says_so(
    client, draft, tmp_path
):
    # It opens without a password (the user password is empty) but forbids copying and
    # printing: the packet needs its pages, so it is rewritten without the lock.
    data = owner_locked_pdf()
    assert PdfReader(io.BytesIO(data)).is_encrypted
    reader, info, index, attachment = packet_of(client, draft, tmp_path, "locked.pdf", data)
    assert not reader.is_encrypted
    assert not PdfReader(attachment.part.path).is_encrypted
    assert info["pages"] == info["summary_pages"] + 1
    assert "Locked letter" in pdf_text_of(reader, [info["pages"] - 1])
    assert attachment.part_note == "Its copy protection was removed so it could be included."
    assert squashed(attachment.part_note) in index


# --- page limits (issue 12) ----------------------------------------------------------------------


def test_a_pdf_of_20000_pages_is_refused_at_upload_and_nothing_is_kept(
    client, draft, private_media
):
    # A real page tree of 20 000 pages sharing one content stream, about 200 KB on disk: it
    # used to be accepted and make a 20 013-page packet.
    data = many_pages_pdf(20_000)
    assert len(data) < 400_000
    response = post(client, draft, "notes.pdf", data)
    assert_refused(
        response,
        draft,
        private_media,
        "This PDF has 20 000 pages; the limit is 300 pages a document.",
    )


def test_a_referral_at_990_pages_refuses_an_11_page_pdf(client, draft, private_media):
    for pages in (300, 299, 298, 93):  # different files: the same one again is not stored twice
        assert post(client, draft, f"part-{pages}.pdf", many_pages_pdf(pages)).status_code == 302
    response = post(client, draft, "more.pdf", pdf_bytes(pages=11))
    page = refused_page(response)
    assert "This referral's documents would pass 1 000 pages in all" in page
    assert Attachment.objects.filter(referral=draft).count() == 4
    assert len(stored_files(private_media)) == 4
    # Exactly at the limit is still fine.
    assert post(client, draft, "last.pdf", pdf_bytes(pages=10)).status_code == 302


def test_an_image_counts_as_one_page_of_the_referrals_limit(client, draft, settings):
    settings.PACKET_MAX_PAGES = 3
    assert post(client, draft, "notes.pdf", pdf_bytes(pages=2)).status_code == 302
    assert post(client, draft, "back.jpg", image_bytes("JPEG")).status_code == 302
    response = post(client, draft, "xray.png", image_bytes("PNG"))
    assert "would pass 3 pages in all" in refused_page(response)
    assert Attachment.objects.filter(referral=draft).count() == 2
