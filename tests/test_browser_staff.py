"""In Chromium: the practice's view of a submitted referral, with its packet."""

import pytest

from referrals.packets import queue as packet_queue
from tests.conftest import assert_accessible, screenshot, sign_in
from tests.test_packets import DOCUMENTS, referral_with_documents

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_sees_the_referral_and_its_ready_packet(page, referrer, admin_user, private_media):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:2])
    packet_queue.packet_render(packet_id=referral.packets.get().pk)
    sign_in(page, admin_user.email)
    page.goto(f"/referrals/{referral.uuid}/")
    section = page.get_by_role("region", name="Referral packet")
    assert "Ready" in section.inner_text()
    with page.expect_download() as download:
        section.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == f"{referral.reference}-packet-v1.pdf"
    screenshot(page, "staff-referral-packet")
    assert_accessible(page)
