"""Documents through HTTP: upload checked by content, stored privately, served only by the
checked view, deleted only in a draft."""

import hashlib
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from referrals import attachments, selectors, workflow
from referrals.models import Attachment
from tests.factories import make_referral
from tests.files import dicom_bytes, image_bytes, pdf_bytes


@pytest.fixture(autouse=True)
def _media(private_media):
    return private_media


def stored_files(root) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


def refused_page(response) -> str:
    """A refused upload redirects back (post/redirect/get); the page it leads to says why."""
    assert response.status_code == 302
    return response.client.get(response.url).content.decode()


def upload(client, referral, name, content, kind="clinical_notes"):
    return client.post(
        reverse("attachment_upload", args=[referral.uuid]),
        {"kind": kind, "file": SimpleUploadedFile(name, content, "application/octet-stream")},
    )


@pytest.mark.parametrize(
    ("name", "content", "content_type", "pages"),
    [
        ("notes.pdf", pdf_bytes(pages=2), "application/pdf", 2),
        ("photo.jpg", image_bytes("JPEG"), "image/jpeg", None),
        ("xray.png", image_bytes("PNG"), "image/png", None),
        ("series", dicom_bytes(), "application/dicom", None),
    ],
)
def test_real_documents_are_accepted_with_type_size_and_sha256(
    client, referrer, private_media, name, content, content_type, pages
):
    referral = make_referral(referrer)
    client.force_login(referrer)
    response = upload(client, referral, name, content)
    assert response.status_code == 302
    attachment = referral.attachments.get()
    assert attachment.content_type == content_type
    assert attachment.size == len(content)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.pages == pages
    assert attachment.original_name == name
    # Stored under a random name, not the doctor's file name.
    path = attachment.file.path
    assert os.path.basename(path) != name and str(private_media) in path
    with open(path, "rb") as handle:
        assert handle.read() == content


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("notes.pdf", b"just some text, not a PDF\n" * 20, "PDF, JPEG, PNG or DICOM"),
        ("page.html", b"<!doctype html><html><body>hi</body></html>", "PDF, JPEG, PNG or DICOM"),
        ("cut.pdf", pdf_bytes(pages=3)[:300], "PDF"),
    ],
)
def test_other_files_are_refused_with_a_message_and_leave_nothing(
    client, referrer, private_media, name, content, says
):
    referral = make_referral(referrer)
    client.force_login(referrer)
    response = upload(client, referral, name, content)
    page = refused_page(response)
    assert says in page
    assert f"“{name}” was not added" in page  # the message names the refused file
    assert not referral.attachments.exists()
    assert stored_files(private_media) == []


def test_an_oversized_file_is_refused_and_nothing_is_kept(
    client, referrer, private_media, settings
):
    settings.DOCUMENT_MAX_BYTES = 1000
    referral = make_referral(referrer)
    client.force_login(referrer)
    response = upload(client, referral, "big.pdf", pdf_bytes(pages=40))
    assert "is over the limit of 1000" in refused_page(response)
    assert not referral.attachments.exists()
    assert stored_files(private_media) == []


def test_the_referral_total_limit_is_enforced(client, referrer, settings):
    content = pdf_bytes(pages=2)
    settings.REFERRAL_MAX_BYTES = len(content) + 10
    referral = make_referral(referrer)
    client.force_login(referrer)
    assert upload(client, referral, "a.pdf", content).status_code == 302
    response = upload(client, referral, "b.pdf", pdf_bytes(pages=3))  # another file
    assert "in all" in refused_page(response)
    assert referral.attachments.count() == 1


def test_a_refused_upload_keeps_the_chosen_kind(client, referrer):
    referral = make_referral(referrer)
    client.force_login(referrer)
    html = refused_page(upload(client, referral, "x.pdf", b"nope", kind="pathology"))
    assert '<option value="pathology" selected>' in html
    # A reload of that page is the documents page again, with no error left over.
    page = client.get(reverse("referral_section", args=[referral.uuid, "documents"]))
    assert page.status_code == 200 and "was not added" not in page.content.decode()


def test_the_checklist_shows_what_is_still_missing(client, referrer):
    referral = make_referral(referrer)
    client.force_login(referrer)
    upload(client, referral, "notes.pdf", pdf_bytes(), kind="clinical_notes")
    upload(client, referral, "report.pdf", pdf_bytes(), kind="imaging_report")
    html = client.get(reverse("referral_section", args=[referral.uuid, "documents"])).content
    html = html.decode()
    assert 'data-checklist="clinical_notes" data-present="yes"' in html
    assert 'data-checklist="imaging" data-present="yes"' in html
    assert 'data-checklist="pathology" data-present="no"' in html


def test_the_download_is_an_attachment_with_nosniff_for_those_allowed(
    client, referrer, other_referrer, admin_user
):
    referral = make_referral(referrer)
    client.force_login(referrer)
    content = pdf_bytes()
    upload(client, referral, "notes<script>.pdf", content)
    attachment = referral.attachments.get()
    url = reverse("attachment_download", args=[referral.uuid, attachment.uuid])
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    client.force_login(other_referrer)
    assert client.get(url).status_code == 404
    client.force_login(admin_user)
    assert client.get(url).status_code == 404  # still a draft: the doctor's own
    workflow.referral_submit(referral=referral, by=referrer, outside_criteria_reason="x")
    assert client.get(url).status_code == 200
    client.logout()
    assert client.get(url).status_code == 302


def test_a_document_id_from_another_referral_gets_404(client, referrer):
    mine = make_referral(referrer)
    other = make_referral(referrer)
    client.force_login(referrer)
    upload(client, other, "notes.pdf", pdf_bytes())
    attachment = other.attachments.get()
    url = reverse("attachment_download", args=[mine.uuid, attachment.uuid])
    assert client.get(url).status_code == 404


def test_deleting_is_possible_only_in_a_draft(
    client, referrer, private_media, django_capture_on_commit_callbacks
):
    referral = make_referral(referrer)
    client.force_login(referrer)
    upload(client, referral, "one.pdf", pdf_bytes())
    upload(client, referral, "two.pdf", pdf_bytes())
    first, second = referral.attachments.all()
    url = reverse("attachment_delete", args=[referral.uuid, first.uuid])
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the row has
        client.post(url)
    assert list(referral.attachments.all()) == [second]
    assert len(stored_files(private_media)) == 1
    workflow.referral_submit(referral=referral, by=referrer, outside_criteria_reason="x")
    url = reverse("attachment_delete", args=[referral.uuid, second.uuid])
    response = client.post(url, follow=True)
    assert "only while the referral is a draft" in response.content.decode()
    assert referral.attachments.count() == 1


def test_a_replaced_document_is_kept_in_the_history(referrer, admin_user, tmp_path):
    from django.core.files.uploadedfile import TemporaryUploadedFile

    referral = make_referral(referrer, status="submitted")
    workflow.referral_request_info(referral=referral, by=admin_user, items=[], note="Newer one?")

    def temp(content):
        handle = TemporaryUploadedFile("notes.pdf", "application/pdf", len(content), None)
        handle.write(content)
        handle.flush()
        return handle

    referral.refresh_from_db()
    old = attachments.attachment_add(
        referral=referral, kind="clinical_notes", uploaded_file=temp(pdf_bytes(1)), by=referrer
    )
    new = attachments.attachment_replace(old=old, uploaded_file=temp(pdf_bytes(2)), by=referrer)
    old.refresh_from_db()
    assert old.replaced_by == new
    assert list(selectors.current_attachments(referral)) == [new]
    assert Attachment.objects.filter(referral=referral).count() == 2


def test_documents_can_be_added_when_information_is_requested(client, referrer, admin_user):
    referral = make_referral(referrer, status="submitted")
    workflow.referral_request_info(referral=referral, by=admin_user, items=[], note="Pathology?")
    client.force_login(referrer)
    response = upload(client, referral, "bloods.pdf", pdf_bytes(), kind="pathology")
    assert response.status_code == 302
    assert response.url == reverse("referral_detail", args=[referral.uuid]) + "#docs-title"
    response = client.post(reverse("referral_answer", args=[referral.uuid]), {"answer": ""})
    referral.refresh_from_db()
    assert referral.status == "submitted"  # a new document is an answer on its own


def test_documents_cannot_be_added_to_a_submitted_referral(client, referrer):
    referral = make_referral(referrer, status="submitted")
    client.force_login(referrer)
    response = upload(client, referral, "late.pdf", pdf_bytes())
    assert "“late.pdf” was not added" in refused_page(response)
    assert not referral.attachments.exists()


def test_a_checked_upload_is_moved_into_storage_not_copied(referrer, settings, tmp_path):
    # With FILE_UPLOAD_TEMP_DIR on the media volume, storing a 100 MB scan is a rename: the
    # stored file is the very file the upload streamed to, and no temporary copy is left.
    from tests.test_packets import temp_upload

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploading")
    os.makedirs(settings.FILE_UPLOAD_TEMP_DIR)
    referral = make_referral(referrer)
    uploaded = temp_upload("notes.pdf", pdf_bytes(pages=2))
    temporary = uploaded.temporary_file_path()
    assert os.path.dirname(temporary) == settings.FILE_UPLOAD_TEMP_DIR
    inode = os.stat(temporary).st_ino
    attachment = attachments.attachment_add(
        referral=referral, kind="clinical_notes", uploaded_file=uploaded, by=referrer
    )
    assert os.stat(attachment.file.path).st_ino == inode
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    with open(attachment.file.path, "rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == attachment.sha256
