"""The referrer's printable copy of what was sent: the summary pages of each version's packet,
through a checked view, without the documents appended to the IR's packet."""

from io import BytesIO

import pytest
from django.urls import reverse
from pypdf import PdfReader

from portal.audit import AuditEvent
from referrals import attachments, workflow
from referrals.packets import queue as packet_queue
from tests.factories import make_referral
from tests.files import pdf_bytes
from tests.test_packets import temp_upload


@pytest.fixture
def sent(referrer, admin_user, private_media):
    referral = make_referral(referrer)
    notes = temp_upload("notes.pdf", pdf_bytes(pages=4))
    attachments.attachment_add(referral=referral, kind="clinical_notes", by=referrer,
                               uploaded_file=notes)  # fmt: skip
    workflow.referral_submit(referral=referral, by=referrer, outside_criteria_reason="Test")
    packet = packet_queue.packet_render(packet_id=referral.packets.get().pk)
    assert packet.status == "ready"
    return referral, packet


def test_the_referrer_downloads_the_summary_of_the_version_sent(client, referrer, sent):
    referral, packet = sent
    client.force_login(referrer)
    page = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    url = reverse("packet_summary", args=[referral.uuid, packet.uuid])
    assert url in page and "Version 1 summary (PDF)" in page

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert f"{referral.reference}-as-sent-v1.pdf" in response["Content-Disposition"]
    copy = PdfReader(BytesIO(response.content))
    whole = PdfReader(packet.file.open("rb"))
    # The summary pages only: the 4-page document appended to the IR's packet is not in it.
    assert len(copy.pages) == len(whole.pages) - 4
    text = " ".join(p.extract_text() for p in copy.pages)
    assert f"Vertebroplasty referral {referral.reference}" in text and "Eligibility" in text
    assert AuditEvent.objects.filter(referral=referral, action="document_printed").exists()


def test_another_referrer_gets_404(client, other_referrer, sent):
    referral, packet = sent
    client.force_login(other_referrer)
    url = reverse("packet_summary", args=[referral.uuid, packet.uuid])
    assert client.get(url).status_code == 404
