"""Packet parts: each document made once into the pages every packet version appends
(referrals/packets/parts.py), and the page stamps drawn straight into each page."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files.storage import InMemoryStorage
from django.urls import reverse
from pypdf import PdfReader, PdfWriter

from referrals import attachments
from referrals.models import Attachment
from referrals.packets.build import build_packet
from referrals.packets.parts import attachment_prepare, attachments_prepare, describe_removed
from tests.factories import make_referral
from tests.files import dicom_image_bytes, image_bytes, pdf_bytes, scripted_pdf
from tests.test_packets import pdf_text, referral_with_documents, temp_upload

READY, PENDING, LEFT_OUT = (
    Attachment.PartStatus.READY,
    Attachment.PartStatus.PENDING,
    Attachment.PartStatus.LEFT_OUT,
)


def add(referral, by, name, data, kind="clinical_notes"):
    return attachments.attachment_add(
        referral=referral, kind=kind, uploaded_file=temp_upload(name, data), by=by
    )


def test_an_upload_asks_the_worker_for_its_part_once_committed(
    referrer, private_media, django_capture_on_commit_callbacks, monkeypatch
):
    from referrals import tasks

    sent = []
    # The broker itself is not what is tested here (test_packet_worker.py runs a real worker).
    monkeypatch.setattr(tasks.prepare_attachment, "apply_async", lambda **kw: sent.append(kw))
    referral = make_referral(referrer)
    with django_capture_on_commit_callbacks(execute=True):
        attachment = add(referral, referrer, "notes.pdf", pdf_bytes(pages=2))
    assert sent == [{"args": [attachment.pk], "retry": False}]
    assert attachment.part_status == PENDING  # the worker makes it, not the request


def test_a_pdf_part_is_the_checked_rewrite_with_its_pages(referrer, private_media):
    attachment = add(make_referral(referrer), referrer, "notes.pdf", pdf_bytes(pages=3))
    attachment_prepare(attachment_id=attachment.pk)
    attachment.refresh_from_db()
    assert (attachment.part_status, attachment.part_pages, attachment.part_note) == (READY, 3, "")
    assert attachment.part.name.endswith(".part.pdf")
    assert attachment.part.name.startswith(str(Path(attachment.file.name).parent))
    assert len(PdfReader(attachment.part.path).pages) == 3


def test_a_pdf_part_records_what_was_removed_from_it(referrer, private_media):
    attachment = add(make_referral(referrer), referrer, "letter.pdf", scripted_pdf())
    plain = add(attachment.referral, referrer, "notes.pdf", pdf_bytes(pages=1))
    attachments_prepare([attachment, plain])
    attachment.refresh_from_db()
    plain.refresh_from_db()
    assert (attachment.part_status, attachment.part_removed) == (READY, {"scripts": 5})
    assert (plain.part_status, plain.part_removed, plain.part_note) == (READY, {}, "")


@pytest.mark.parametrize(
    ("counts", "sentence"),
    [
        ({}, ""),
        (None, ""),
        ({"scripts": 0}, ""),
        ({"scripts": 1}, "Active content removed: 1 script."),
        (
            {"embedded_files": 1, "scripts": 3},
            "Active content removed: 3 scripts and 1 embedded file.",
        ),
        (
            {"form_fields": 2, "links": 1, "scripts": 1, "embedded_files": 2},
            "Active content removed: 1 script, 1 external link, 2 embedded files and 2 form"
            " fields.",
        ),
        ({"actions": 2}, "Active content removed: 2 actions."),
        ({"actions": 1, "xfa": 1}, "Active content removed: 1 XFA form and 1 other action."),
        ({"launches": 2}, "Active content removed: 2 commands to open files or programs."),
        ({"media": 1}, "Active content removed: 1 video, sound or 3D object."),
        ({"scripts": True, "links": "2"}, ""),  # not counts: nothing to say
    ],
)
def test_what_was_removed_reads_as_one_sentence(counts, sentence):
    assert describe_removed(counts) == sentence


def test_the_staff_document_list_says_what_the_packets_copy_lost(
    client, referrer, admin_user, private_media
):
    referral = referral_with_documents(
        referrer, documents=[("clinical_notes", "letter.pdf", scripted_pdf)]
    )
    attachments_prepare(list(referral.attachments.all()))
    client.force_login(admin_user)
    page = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    assert "Active content removed: 5 scripts. (In the packet's copy;" in page


def test_a_photo_part_is_one_a4_page_embedding_the_photo_as_a_jpeg(referrer, private_media):
    attachment = add(
        make_referral(referrer), referrer, "back.jpg", image_bytes("JPEG", (900, 600)), "imaging"
    )
    attachments_prepare([attachment])
    assert (attachment.part_status, attachment.part_pages) == (READY, 1)
    page = PdfReader(attachment.part.path).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    assert "back.jpg" in page.extract_text()
    (image,) = page.images
    assert image.name.endswith(".jpg")  # DCTDecode: the JPEG as the child wrote it
    assert image.image.size == (900, 600)


def test_a_dicom_part_shows_its_summary_and_first_frame(referrer, private_media):
    attachment = add(make_referral(referrer), referrer, "mr.dcm", dicom_image_bytes(), "imaging")
    attachments_prepare([attachment])
    assert (attachment.part_status, attachment.part_pages) == (READY, 1)
    page = PdfReader(attachment.part.path).pages[0]
    assert "MRI THORACOLUMBAR SPINE" in page.extract_text()
    assert len(page.images) == 1


def test_a_document_that_cannot_be_included_is_left_out_with_the_reason(referrer, private_media):
    attachment = add(make_referral(referrer), referrer, "locked.pdf", pdf_bytes(pages=1))
    Path(attachment.file.path).write_bytes(pdf_bytes(pages=1, password="secret"))
    attachments_prepare([attachment])
    attachment.refresh_from_db()
    assert attachment.part_status == LEFT_OUT
    assert attachment.part_note == "Password-protected PDF: not included."
    assert not attachment.part


def test_packets_append_the_stored_parts_without_reading_the_documents_again(
    referrer, private_media, tmp_path
):
    referral = referral_with_documents(referrer)
    attachments = list(referral.attachments.all())
    attachments_prepare(attachments)
    for attachment in attachments:  # were the packet to read these again, it would fail
        Path(attachment.file.path).write_bytes(b"not a document any more")
    info = build_packet(referral, tmp_path / "packet.pdf")
    assert info["pages"] == info["summary_pages"] + 3 + 2 + 1 + 1
    text = pdf_text(PdfReader(tmp_path / "packet.pdf"))
    assert "not included" not in text
    assert Attachment.objects.filter(referral=referral, part_status=READY).count() == 4


def test_a_packet_makes_any_part_still_pending_itself(referrer, private_media, tmp_path):
    referral = referral_with_documents(referrer)
    assert set(referral.attachments.values_list("part_status", flat=True)) == {PENDING}
    info = build_packet(referral, tmp_path / "packet.pdf")
    assert info["pages"] == info["summary_pages"] + 7
    assert set(referral.attachments.values_list("part_status", flat=True)) == {READY}


def test_two_preparers_at_once_leave_one_part_and_no_stray_file(referrer, private_media):
    attachment = add(make_referral(referrer), referrer, "notes.pdf", pdf_bytes(pages=2))
    first, second = (
        Attachment.objects.get(pk=attachment.pk),
        Attachment.objects.get(pk=attachment.pk),
    )
    attachments_prepare([first])
    attachments_prepare([second])  # loaded while still pending: it loses, and says so
    assert second.part.name == first.part.name
    folder = Path(attachment.file.path).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [Path(attachment.file.name).name, Path(first.part.name).name]
    )


def test_preparing_again_changes_nothing(referrer, private_media):
    attachment = add(make_referral(referrer), referrer, "notes.pdf", pdf_bytes(pages=2))
    attachment_prepare(attachment_id=attachment.pk)
    attachment.refresh_from_db()
    name = attachment.part.name
    attachment_prepare(attachment_id=attachment.pk)
    attachment_prepare(attachment_id=999_999)  # deleted meanwhile: nothing to do
    attachment.refresh_from_db()
    assert attachment.part.name == name


def test_deleting_a_drafts_document_deletes_its_part_too(
    referrer, private_media, django_capture_on_commit_callbacks, monkeypatch
):
    from referrals import tasks

    monkeypatch.setattr(tasks.prepare_attachment, "apply_async", lambda **kw: None)
    attachment = add(make_referral(referrer), referrer, "notes.pdf", pdf_bytes(pages=2))
    attachments_prepare([attachment])
    files = [Path(attachment.file.path), Path(attachment.part.path)]
    assert all(f.exists() for f in files)
    with django_capture_on_commit_callbacks(execute=True):
        attachments.attachment_delete(attachment=attachment, by=referrer)
    assert not any(f.exists() for f in files)


class ObjectStorage(InMemoryStorage):
    """Files that can be opened and saved but have no local path, as with S3-compatible object
    storage (Django's in-memory storage answers path() with a path that does not exist)."""

    def path(self, name):
        raise NotImplementedError("This backend doesn't support absolute paths.")

    def _relative_path(self, name):  # the in-memory storage's own use of path()
        from django.utils._os import safe_join

        return os.path.relpath(safe_join(self.location, name), self.location)


def test_parts_and_packets_need_no_local_path_to_the_documents(referrer, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.test_parts.ObjectStorage"},
    }
    referral = referral_with_documents(referrer)
    info = build_packet(referral, tmp_path / "packet.pdf")
    assert info["pages"] == info["summary_pages"] + 7
    assert set(referral.attachments.values_list("part_status", flat=True)) == {READY}


# --- the stamps --------------------------------------------------------------------------------


def rotated_pdf(rotate: int, width=595, height=842) -> bytes:
    import io

    writer = PdfWriter()
    page = writer.add_blank_page(width=width, height=height)
    page.rotation = rotate
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")
@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_the_stamp_sits_upright_at_the_foot_of_each_page_as_shown(
    referrer, private_media, tmp_path, rotate
):
    # A scanned letter often comes as a landscape page turned by /Rotate: the stamp must read
    # the right way up at the bottom of the page the IR sees, not along its side.
    referral = make_referral(referrer)
    add(referral, referrer, "scan.pdf", rotated_pdf(rotate, width=842, height=595))
    output = tmp_path / "packet.pdf"
    scan = str(build_packet(referral, output)["summary_pages"] + 1)  # the page after the summary
    bbox = subprocess.run(
        ["pdftotext", "-bbox", "-f", scan, "-l", scan, str(output), "-"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # pdftotext gives the words' boxes on the page as shown (its page size is the unturned one).
    shown_width, shown_height = (595, 842) if rotate in (90, 270) else (842, 595)
    words, right = {}, 0.0
    for line in bbox.split("<page ", 1)[1].splitlines():
        if "<word " in line:
            word = line.rsplit(">", 2)[-2].split("<", 1)[0]
            box = {
                k: float(line.split(f'{k}="', 1)[1].split('"', 1)[0])
                for k in ("xMin", "xMax", "yMax")
            }
            words.setdefault(word, box)
            right = max(right, box["xMax"])
    assert referral.reference in words and "Page" in words and "of" in words
    reference, page_word = words[referral.reference], words["Page"]
    # One line within 10 mm of the bottom of the shown page: the reference at 15 mm from the
    # left, "Page 2 of 2" ending 15 mm from the right (the page has nothing else on it).
    assert shown_height - 28 < reference["yMax"] <= shown_height
    assert abs(reference["yMax"] - page_word["yMax"]) < 1
    assert abs(words["Referral"]["xMin"] - 42.5) < 1
    assert abs(right - (shown_width - 42.5)) < 2
    x_reference, x_page = reference["xMin"], page_word["xMin"]
    assert x_reference < x_page
