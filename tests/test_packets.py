"""Referral packets: the PDF's content, versions, idempotency and safety, rendered without
Celery; the worker's part is in test_packet_worker.py."""

import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.urls import reverse
from pypdf import PdfReader

from eligibility.rules import CRITERIA
from referrals import attachments, file_checks, workflow
from referrals.models import Packet
from referrals.packets import queue as packet_queue
from referrals.packets.build import build_packet, packet_context
from tests.factories import make_referral
from tests.files import dicom_image_bytes, image_bytes, pdf_bytes

DOCUMENTS = [
    ("clinical_notes", "gp-notes.pdf", lambda: pdf_bytes(pages=3)),
    ("imaging_report", "mri-report.pdf", lambda: pdf_bytes(pages=2)),
    ("imaging", "spine-photo.jpg", lambda: image_bytes("JPEG", size=(400, 300))),
    ("imaging", "mr-series.dcm", dicom_image_bytes),
]


def temp_upload(name: str, content: bytes) -> TemporaryUploadedFile:
    handle = TemporaryUploadedFile(name, "application/octet-stream", len(content), None)
    handle.write(content)
    handle.flush()
    return handle


def referral_with_documents(referrer, documents=DOCUMENTS, **fields):
    referral = make_referral(referrer, **fields)
    for kind, name, make in documents:
        attachments.attachment_add(
            referral=referral, kind=kind, uploaded_file=temp_upload(name, make()), by=referrer
        )
    workflow.referral_submit(referral=referral, by=referrer, outside_criteria_reason="Test")
    referral.refresh_from_db()
    return referral


def pdf_text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.fixture
def packet_pdf(referrer, private_media, tmp_path):
    referral = referral_with_documents(referrer)
    output = tmp_path / "packet.pdf"
    info = build_packet(referral, output, version=1)
    return referral, output, info


def test_the_packet_holds_the_summary_and_every_document(packet_pdf):
    referral, output, info = packet_pdf
    reader = PdfReader(output)
    text = pdf_text(reader)
    assert referral.reference in text
    assert "Joan Sample" in text
    squashed = "".join(text.split())  # extraction breaks lines, and words at hyphens
    for criterion in CRITERIA:
        assert "".join(criterion.text.split()) in squashed, criterion.id
    for _kind, name, _make in DOCUMENTS:
        assert name in text
    assert "MRI THORACOLUMBAR SPINE" in text  # the DICOM summary page
    # Summary pages, then 3 + 2 PDF pages, a page for the photo and one for the DICOM.
    assert len(reader.pages) == info["summary_pages"] + 3 + 2 + 1 + 1 == info["pages"]


def test_the_packet_has_a_bookmark_per_document(packet_pdf):
    _referral, output, info = packet_pdf
    reader = PdfReader(output)
    # Top-level items only: an appended PDF's own outline nests under its bookmark.
    top = [item for item in reader.outline if not isinstance(item, list)]
    titles = [item.title for item in top]
    assert titles == [
        "Referral summary",
        "Clinical notes: gp-notes.pdf",
        "Imaging report: mri-report.pdf",
        "Imaging (images): spine-photo.jpg",
        "Imaging (images): mr-series.dcm",
    ]
    pages = [reader.get_destination_page_number(item) for item in top]
    s = info["summary_pages"]
    assert pages == [0, s, s + 3, s + 5, s + 6]


def test_every_page_carries_the_reference_and_page_x_of_y(packet_pdf):
    referral, output, info = packet_pdf
    reader = PdfReader(output)
    total = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Page {number} of {total}" in text
        assert f"Referral {referral.reference}" in text


def test_the_summary_is_a4_and_the_dicom_frame_is_an_image(packet_pdf):
    _referral, output, info = packet_pdf
    reader = PdfReader(output)
    first = reader.pages[0]
    assert (round(float(first.mediabox.width)), round(float(first.mediabox.height))) == (595, 842)
    dicom_page = reader.pages[info["pages"] - 1]
    assert len(dicom_page.images) >= 1


@pytest.mark.skipif(not shutil.which("qpdf"), reason="qpdf is not installed (apt-get install qpdf)")
def test_qpdf_finds_the_packet_well_formed(packet_pdf):
    _referral, output, _info = packet_pdf
    result = subprocess.run(["qpdf", "--check", str(output)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_document_that_cannot_be_merged_is_listed_not_fatal(referrer, private_media, tmp_path):
    locked = lambda: pdf_bytes(pages=1, password="secret")  # noqa: E731
    # Password-protected PDFs are refused at upload; simulate one that got stored anyway.
    referral = make_referral(referrer)
    good = attachments.attachment_add(
        referral=referral,
        kind="pathology",
        uploaded_file=temp_upload("bloods.pdf", pdf_bytes(pages=1)),
        by=referrer,
    )
    bad = attachments.attachment_add(
        referral=referral,
        kind="clinical_notes",
        uploaded_file=temp_upload("locked.pdf", pdf_bytes(pages=1)),
        by=referrer,
    )
    Path(bad.file.path).write_bytes(locked())
    output = tmp_path / "packet.pdf"
    info = build_packet(referral, output)
    text = "".join(pdf_text(PdfReader(output)).split())
    assert "locked.pdf" in text and "Password-protectedPDF:notincluded." in text
    assert info["pages"] == info["summary_pages"] + 1
    assert good.original_name in text


def test_a_packet_never_passes_the_page_limit(referrer, private_media, tmp_path, settings):
    # Uploads are refused past PACKET_MAX_PAGES; a lower limit set later (or the summary's own
    # pages) must still not make a longer packet: the document that does not fit is left out.
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:2])  # 3 and 2 pages
    summary_pages = build_packet(referral, tmp_path / "full.pdf")["summary_pages"]
    settings.PACKET_MAX_PAGES = summary_pages + 4
    output = tmp_path / "packet.pdf"
    info = build_packet(referral, output)
    assert info["pages"] == info["summary_pages"] + 3 <= settings.PACKET_MAX_PAGES
    text = "".join(pdf_text(PdfReader(output)).split())
    note = f"Left out: the packet would pass {summary_pages + 4} pages."
    assert "mri-report.pdf" + "".join(note.split()) in text
    assert "gp-notes.pdf" + "".join(note.split()) not in text


def test_building_the_context_takes_a_fixed_number_of_queries(
    referrer, private_media, django_assert_num_queries
):
    referral = referral_with_documents(referrer)
    # imaging, medicines, current attachments, answered requests (referrer and profile are
    # already loaded)
    referral = (
        type(referral)
        .objects.select_related("referrer__referrer_profile", "preferred_site")
        .get(pk=referral.pk)
    )
    with django_assert_num_queries(4):
        packet_context(referral)


# --- versions and idempotency ------------------------------------------------------------------


def test_submitting_queues_version_1(referrer, private_media):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    packet = referral.packets.get()
    assert (packet.version, packet.status, packet.reason) == (1, "queued", "Submitted")


def test_rendering_twice_makes_one_packet_file(referrer, private_media):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:2])
    packet = referral.packets.get()
    first = packet_queue.packet_render(packet_id=packet.pk)
    second = packet_queue.packet_render(packet_id=packet.pk)
    assert first is not None and second is None
    packet.refresh_from_db()
    assert packet.status == Packet.Status.READY and packet.attempts == 1
    folder = private_media / "packets" / str(referral.uuid)
    assert [p.name for p in folder.iterdir()] == [f"{referral.reference}-v1.pdf"]
    assert packet.sha256 == file_checks.sha256_file(folder / f"{referral.reference}-v1.pdf")


def test_a_change_makes_a_second_version_and_keeps_the_first(referrer, admin_user, private_media):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    packet_queue.packet_render(packet_id=referral.packets.get().pk)
    workflow.referral_request_info(referral=referral, by=admin_user, items=[], note="INR?")
    workflow.referral_answer_info_request(referral=referral, by=referrer, answer="INR 1.0")
    v1, v2 = referral.packets.order_by("version")
    assert (v1.version, v1.status, v2.version, v2.status) == (1, "ready", 2, "queued")
    packet_queue.packet_render(packet_id=v2.pk)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.file.name != v2.file.name
    assert Path(v1.file.path).exists() and Path(v2.file.path).exists()


def test_a_permanent_failure_is_shown_and_can_be_retried(
    referrer, admin_user, client, private_media, monkeypatch
):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    packet = referral.packets.get()

    def broken(*args, **kwargs):
        raise ValueError("template exploded")

    monkeypatch.setattr("referrals.packets.build.render_to_string", broken)
    packet_queue.packet_render(packet_id=packet.pk)
    packet.refresh_from_db()
    assert packet.status == "failed" and "template exploded" in packet.last_error
    client.force_login(admin_user)
    page = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    assert "template exploded" in page and "Try again" in page
    monkeypatch.undo()
    client.post(reverse("packet_retry", args=[referral.uuid, packet.uuid]))
    packet.refresh_from_db()
    assert packet.status == "queued"
    packet_queue.packet_render(packet_id=packet.pk)
    packet.refresh_from_db()
    assert packet.status == "ready"


def test_a_stale_render_is_reclaimed_and_a_fresh_one_is_not(referrer, private_media, settings):
    from django.utils import timezone

    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    packet = referral.packets.get()
    Packet.objects.filter(pk=packet.pk).update(status="rendering", claimed_at=timezone.now())
    assert packet_queue.packet_render(packet_id=packet.pk) is None  # someone is on it
    settings.OUTBOX_STALE_SECONDS = 0
    assert packet_queue.packet_render(packet_id=packet.pk) is not None  # they died: take it over


def test_the_sweeper_resends_what_the_broker_never_got(referrer, private_media, monkeypatch):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    sent = []
    monkeypatch.setattr(
        "referrals.tasks.render_packet.apply_async", lambda args, **kw: sent.append(args)
    )
    assert packet_queue.packets_sweep() == {"waiting": 1, "sent": 1, "reclaimed": 0, "failed": 0}
    assert sent == [[referral.packets.get().pk]]
    # Sent recently: left alone.
    assert packet_queue.packets_sweep() == {"waiting": 0, "sent": 0, "reclaimed": 0, "failed": 0}


# --- access -------------------------------------------------------------------------------------


def test_the_packet_is_served_to_staff_only(
    client, referrer, other_referrer, admin_user, radiologist, private_media
):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    packet = packet_queue.packet_render(packet_id=referral.packets.get().pk)
    inline = reverse("packet_inline", args=[referral.uuid, packet.uuid])
    download = reverse("packet_download", args=[referral.uuid, packet.uuid])
    client.force_login(admin_user)
    response = client.get(inline)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client.get(download)["Content-Disposition"].startswith("attachment")
    for outsider in (referrer, other_referrer, radiologist):
        client.force_login(outsider)
        assert client.get(inline).status_code == 404
    type(referral).objects.filter(pk=referral.pk).update(assigned_radiologist=radiologist)
    client.force_login(radiologist)
    assert client.get(inline).status_code == 200
    client.logout()
    assert client.get(download).status_code == 302


def test_render_packet_command_writes_the_pdf(referrer, private_media, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    out = StringIO()
    call_command("render_packet", referral.reference, output=str(tmp_path / "p.pdf"), stdout=out)
    assert "pages" in out.getvalue()
    assert referral.reference in pdf_text(PdfReader(tmp_path / "p.pdf"))


# --- safety -------------------------------------------------------------------------------------


class Listener(http.server.BaseHTTPRequestHandler):
    hits: list = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        Listener.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"LISTENER-CONTENT")

    def log_message(self, *args):
        pass


@pytest.fixture
def listener():
    Listener.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_hostile_text_reads_no_file_embeds_nothing_and_calls_no_one(
    referrer, private_media, tmp_path, listener
):
    canary = (
        '<img src="file:///etc/passwd">'
        '<link rel=attachment href="file:///etc/passwd">'
        f'<img src="{listener}/img"><link rel=stylesheet href="{listener}/css">'
        f'<style>@import url("{listener}/import");</style>'
    )
    referral = make_referral(
        referrer,
        patient_given_name=canary[:100],
        history=canary,
        allergies=f"<iframe src='{listener}/frame'></iframe>",
    )
    output = tmp_path / "packet.pdf"
    build_packet(referral, output)
    reader = PdfReader(output)
    text = pdf_text(reader)
    assert "root:" not in text and "LISTENER-CONTENT" not in text
    assert reader.attachments == {}
    assert Listener.hits == []
    assert '<img src="file:///etc/passwd">' in " ".join(text.split())  # shown as text
    with open(output, "rb") as handle:
        assert b"/EmbeddedFile" not in handle.read()


def test_the_fetcher_refuses_everything_but_data_and_static(listener):
    from referrals.packets.pdf import PacketURLFetcher

    fetcher = PacketURLFetcher()
    for url in ("file:///etc/passwd", f"{listener}/x", "portal-static:../../etc/passwd"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    css = fetcher.fetch("portal-static:css/portal.css").read()
    assert b"portal-navbar" in css
    assert Listener.hits == []
