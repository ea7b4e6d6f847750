"""Document checks (SPEC section 6): real files are generated here, never fixtures on disk."""

import hashlib
import io
import os
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image

from referrals.attachments import LimitedTemporaryFileUploadHandler
from referrals.file_checks import (
    ACCEPTED_DESCRIPTION,
    DetectedDocument,
    DocumentRejected,
    inspect_document,
    safe_display_name,
)
from tests.files import dicom_bytes, image_bytes, many_pages_pdf, pdf_bytes

MAX = 10 * 1024 * 1024


@pytest.fixture
def write(tmp_path):
    def _write(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write


def assert_measured(doc, path):
    data = path.read_bytes()
    assert doc.size == len(data) == os.path.getsize(path)
    assert doc.sha256 == hashlib.sha256(data).hexdigest()


def assert_refused(path, *, max_bytes=MAX, says=None):
    with pytest.raises(DocumentRejected) as info:
        inspect_document(path, max_bytes=max_bytes)
    message = info.value.message
    assert ACCEPTED_DESCRIPTION in message
    if says:
        assert says in message
    return message


def test_a_real_pdf_is_accepted_with_its_page_count(write):
    path = write("notes.pdf", pdf_bytes(pages=3))
    doc = inspect_document(path, max_bytes=MAX)
    assert (doc.content_type, doc.extension, doc.pages) == ("application/pdf", ".pdf", 3)
    assert (doc.width, doc.height, doc.summary) == (None, None, {})
    assert_measured(doc, path)


def test_a_real_jpeg_is_accepted_with_its_dimensions(write):
    path = write("scan.jpg", image_bytes("JPEG"))
    doc = inspect_document(path, max_bytes=MAX)
    assert (doc.content_type, doc.extension) == ("image/jpeg", ".jpg")
    assert (doc.width, doc.height, doc.pages) == (64, 48, None)
    assert_measured(doc, path)


def test_a_real_png_is_accepted_with_its_dimensions(write):
    path = write("xray.png", image_bytes("PNG", size=(30, 20)))
    doc = inspect_document(path, max_bytes=MAX)
    assert (doc.content_type, doc.extension) == ("image/png", ".png")
    assert (doc.width, doc.height) == (30, 20)
    assert_measured(doc, path)


def test_a_real_dicom_is_accepted_with_a_summary(write):
    path = write("series.dcm", dicom_bytes())
    assert path.read_bytes()[128:132] == b"DICM"
    doc = inspect_document(path, max_bytes=MAX)
    assert (doc.content_type, doc.extension, doc.pages) == ("application/dicom", ".dcm", None)
    assert (doc.width, doc.height) == (192, 256)
    assert doc.summary == {
        "modality": "MR",
        "study_date": "2024-01-15",
        "description": "MRI LUMBAR SPINE",
    }
    assert_measured(doc, path)


def test_a_dicom_without_an_extension_is_accepted(write):
    path = write("IM000123", dicom_bytes())
    assert inspect_document(path, max_bytes=MAX).content_type == "application/dicom"


def test_a_dicom_without_a_preamble_is_accepted(write):
    data = dicom_bytes(preamble=False)
    assert data[128:132] != b"DICM"
    doc = inspect_document(write("IM000124", data), max_bytes=MAX)
    assert doc.content_type == "application/dicom"
    assert doc.summary["modality"] == "MR"


def test_a_jpeg_named_pdf_is_detected_as_jpeg(write):
    doc = inspect_document(write("scan.pdf", image_bytes("JPEG")), max_bytes=MAX)
    assert (doc.content_type, doc.extension) == ("image/jpeg", ".jpg")


def test_a_pdf_named_jpg_is_detected_as_pdf(write):
    doc = inspect_document(write("photo.jpg", pdf_bytes()), max_bytes=MAX)
    assert (doc.content_type, doc.extension) == ("application/pdf", ".pdf")


def test_a_text_file_renamed_pdf_is_refused(write):
    assert_refused(write("report.pdf", b"Patient has back pain.\n" * 20))


def test_an_html_file_is_refused(write):
    assert_refused(write("page.html", b"<!DOCTYPE html><html><body>hi</body></html>"))


def test_an_html_file_containing_a_pdf_signature_is_refused(write):
    data = b"  \n<html><!-- %PDF-1.7 --><script>alert(1)</script></html>\n" + pdf_bytes()
    assert_refused(write("polyglot.pdf", data), says="web page")


def test_an_svg_is_refused(write):
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'
    assert_refused(write("image.svg", svg))


def test_a_truncated_pdf_is_refused(write):
    data = pdf_bytes()
    assert_refused(write("half.pdf", data[: len(data) // 2]), says="damaged or incomplete")


def test_a_truncated_png_is_refused(write):
    data = image_bytes("PNG", size=(200, 200))
    assert_refused(write("half.png", data[: len(data) // 2]), says="damaged or incomplete")


def test_a_truncated_jpeg_is_refused(write):
    import weasyprint  # noqa: F401 - it turns Pillow's LOAD_TRUNCATED_IMAGES on when imported

    data = image_bytes("JPEG", size=(200, 200))
    assert_refused(write("half.jpg", data[: len(data) // 2]))


def test_an_empty_file_is_refused(write):
    assert_refused(write("empty.pdf", b""), says="empty")


def test_a_file_over_the_limit_is_refused_with_both_sizes(write):
    path = write("big.pdf", b"%PDF-1.7\n" + b"x" * 1200)
    message = assert_refused(path, max_bytes=1000)
    assert "limit is 1000 bytes a file" in message


def test_the_size_message_reads_in_megabytes(write):
    path = write("big.bin", b"\0" * (2 * 1024 * 1024 + 1))
    message = assert_refused(path, max_bytes=1024 * 1024)
    assert "This file is 2.1 MB; the limit is 1 MB a file." in message


def test_a_zip_is_refused(write):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("scan.pdf", pdf_bytes())
    assert_refused(write("scans.zip", out.getvalue()), says="not a type we accept")


@pytest.mark.parametrize("magic", [b"\x7fELF\x02\x01\x01", b"MZ\x90\x00\x03"])
def test_an_executable_renamed_dcm_is_refused(write, magic):
    assert_refused(write("scan.dcm", magic + b"\0" * 600))


def test_a_password_protected_pdf_is_refused(write):
    path = write("locked.pdf", pdf_bytes(password="s3cret"))
    assert_refused(path, says="This PDF is password-protected")


def test_a_pdf_encrypted_with_an_empty_password_is_accepted(write):
    doc = inspect_document(write("perms.pdf", pdf_bytes(pages=2, password="")), max_bytes=MAX)
    assert doc.pages == 2


def test_a_pdf_over_the_page_limit_is_refused_with_both_counts(write):
    path = write("notes.pdf", many_pages_pdf(301))
    message = assert_refused(
        path, says="This PDF has 301 pages; the limit is 300 pages a document."
    )
    assert inspect_document(write("ok.pdf", many_pages_pdf(300)), max_bytes=MAX).pages == 300
    assert message.count("300") == 1


def test_the_page_limit_follows_the_setting(write, settings):
    settings.DOCUMENT_MAX_PAGES = 5
    assert inspect_document(write("five.pdf", pdf_bytes(pages=5)), max_bytes=MAX).pages == 5
    assert_refused(
        write("six.pdf", pdf_bytes(pages=6)), says="This PDF has 6 pages; the limit is 5 pages"
    )


def test_an_image_over_the_pixel_limit_is_refused(write, monkeypatch):
    monkeypatch.setattr("referrals.file_checks.MAX_IMAGE_PIXELS", 100)
    assert_refused(write("huge.png", image_bytes("PNG", size=(20, 20))), says="too large")


def test_a_pillow_decompression_bomb_warning_is_refused(write, monkeypatch):
    # Between Pillow's limit and twice it, Pillow only warns; that must still refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)
    assert_refused(write("bomb.png", image_bytes("PNG", size=(20, 20))), says="too large")


def test_a_dicom_magic_with_garbage_after_it_is_refused(write):
    assert_refused(write("fake.dcm", b"\0" * 128 + b"DICM" + b"\xff" * 300))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\gp\\scan.pdf", "scan.pdf"),
        ("sc\x00an\n.pdf", "scan .pdf"),
        ("my\x00file.pdf", "myfile.pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("MRI   lumbar\tspine.pdf", "MRI lumbar spine.pdf"),
        ("evil\u202efdp.exe", "evilfdp.exe"),
        ("report.pdf", "report.pdf"),
    ],
)
def test_display_names_are_sanitised(name, expected):
    assert safe_display_name(name) == expected


def test_a_long_display_name_is_cut_keeping_the_extension():
    result = safe_display_name("a" * 396 + ".pdf")
    assert len(result) == 150
    assert result.endswith(".pdf")


@pytest.mark.parametrize("name", ["", "   ", "...", "dir/", "\x00\x01"])
def test_an_empty_display_name_falls_back(name):
    assert safe_display_name(name) == "document"
    assert safe_display_name(name, fallback="scan") == "scan"


def upload_request(data, field="file"):
    request = RequestFactory().post(
        "/upload/", {field: SimpleUploadedFile("scan.pdf", data, "application/pdf")}
    )
    handler = LimitedTemporaryFileUploadHandler(request)
    request.upload_handlers = [handler]
    return request, handler


def test_an_upload_under_the_limit_is_streamed_to_a_temporary_file(settings):
    settings.DOCUMENT_MAX_BYTES = 200_000
    data = os.urandom(150_000)  # several 64 KB chunks
    request, _ = upload_request(data)
    uploaded = request.FILES["file"]
    assert isinstance(uploaded, TemporaryUploadedFile)
    with open(uploaded.temporary_file_path(), "rb") as fh:
        assert fh.read() == data
    assert uploaded.size == len(data)
    assert not getattr(request, "upload_too_large", None)
    uploaded.close()


def test_an_upload_over_the_limit_is_dropped_and_named(settings, monkeypatch):
    settings.DOCUMENT_MAX_BYTES = 100_000
    created = []
    original_new_file = LimitedTemporaryFileUploadHandler.new_file

    def spy(self, *args, **kwargs):
        original_new_file(self, *args, **kwargs)
        created.append(self.file.temporary_file_path())

    monkeypatch.setattr(LimitedTemporaryFileUploadHandler, "new_file", spy)
    request, handler = upload_request(os.urandom(150_000), field="imaging")
    assert "imaging" not in request.FILES
    assert request.upload_too_large == "imaging"
    assert handler.too_large
    assert created and not any(os.path.exists(p) for p in created)


def test_an_upload_exactly_at_the_limit_is_kept(settings):
    settings.DOCUMENT_MAX_BYTES = 1000
    request, _ = upload_request(b"x" * 1000)
    assert request.FILES["file"].size == 1000
    request.FILES["file"].close()


SIGNATURES = [
    b"",
    b"%PDF-1.7\n",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"\0" * 128 + b"DICM",
    b"\x02\x00",
    b"\x08\x00",
    b"PK\x03\x04",
]


@hsettings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(prefix=st.sampled_from(SIGNATURES), body=st.binary(max_size=4096))
def test_arbitrary_bytes_are_either_accepted_or_refused_never_crash(tmp_path, prefix, body):
    path = tmp_path / "upload"
    path.write_bytes(prefix + body)
    try:
        result = inspect_document(path, max_bytes=MAX)
    except DocumentRejected as exc:
        assert ACCEPTED_DESCRIPTION in exc.message
    else:
        assert isinstance(result, DetectedDocument)
