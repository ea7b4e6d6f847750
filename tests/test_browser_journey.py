"""In Chromium, the whole journey with a real worker: a referrer submits; an admin asks for
more information; the referrer answers; the admin accepts and assigns an IR; the IR opens the
packet and approves; the admin books; the referrer sees the booking."""

import datetime
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from portal.celery import app
from referrals.models import Packet, Referral, Site
from tests.conftest import assert_accessible, screenshot, sign_in
from tests.factories import make_referral

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def wait_for_packet(referral, version, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = (
            Packet.objects.filter(referral=referral, version=version)
            .values_list("status", flat=True)
            .first()
        )
        if status == "ready":
            return
        time.sleep(0.3)
    raise AssertionError(f"packet v{version} not ready")


def test_the_whole_journey(page, referrer, admin_user, radiologist, private_media, mailoutbox):
    site = Site.objects.create(name="Example Private Hospital, Parkville")
    referral = make_referral(referrer, coagulopathy="", preferred_site=site)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        # The referrer submits (the form itself is covered in test_browser_intake).
        sign_in(page, referrer.email)
        page.goto(f"/referrals/{referral.uuid}/edit/review/")
        page.get_by_label("Why are you referring").fill("Coagulation status to follow.")
        page.get_by_role("button", name="Send referral to the practice").click()
        page.wait_for_selector("text=has been sent to the practice")
        sign_out(page)

        # The admin finds it in the queue and asks for the coagulation status.
        sign_in(page, admin_user.email)
        page.wait_for_url("**/triage/")
        row = page.get_by_role("row", name=referral.reference)
        assert "Submitted" in row.inner_text()
        screenshot(page, "journey-queue")
        assert_accessible(page)
        row.get_by_role("link", name=referral.reference).click()
        page.get_by_text("Ask the referrer for more information").click()
        page.get_by_label("Coagulopathy: not known").check()
        page.get_by_label("Note to the referrer").first.fill("Is there a bleeding disorder?")
        screenshot(page, "journey-admin-request")
        assert_accessible(page)
        page.get_by_role("button", name="Send request").click()
        page.wait_for_selector("text=sent back to the referrer")
        sign_out(page)

        # The referrer answers, item by item, with the window shown.
        sign_in(page, referrer.email)
        page.goto(f"/referrals/{referral.uuid}/")
        request_box = page.get_by_role("region", name="The practice asks for more information")
        assert "Coagulopathy: not known" in request_box.inner_text()
        assert "window closes on" in request_box.inner_text()
        page.get_by_label("Your answer").fill("No bleeding disorder; INR 1.0 last week.")
        page.get_by_role("button", name="Send answer to the practice").click()
        page.wait_for_selector("text=Your answer has been sent")
        sign_out(page)

        # The admin accepts and assigns the IR.
        sign_in(page, admin_user.email)
        page.goto(f"/referrals/{referral.uuid}/")
        page.get_by_text("Accept and assign an IR").click()
        page.get_by_label("Assign to interventional radiologist").select_option(str(radiologist.pk))
        page.get_by_role("button", name="Accept and assign").click()
        page.wait_for_selector("text=accepted and assigned")
        sign_out(page)

        # The IR opens the packet (version 2, after the answer) and approves.
        wait_for_packet(referral, 2)
        sign_in(page, radiologist.email)
        page.wait_for_url("**/reviews/")
        assert "Awaiting IR review" in page.get_by_role("row", name=referral.reference).inner_text()
        assert_accessible(page)
        page.get_by_role("link", name=referral.reference).click()
        frame = page.locator("iframe.packet-frame")
        pdf = page.request.get(frame.get_attribute("src"))
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF")
        screenshot(page, "journey-ir-review")
        assert_accessible(page)
        page.get_by_text("Suitable: approve for the procedure").click()
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url("**/reviews/")
        sign_out(page)

        # The admin books.
        sign_in(page, admin_user.email)
        page.goto(f"/referrals/{referral.uuid}/")
        page.get_by_text("Book the procedure").click()
        day = timezone.localdate() + datetime.timedelta(days=4)
        page.locator("#id_book-date").fill(day.isoformat())
        page.locator("#id_book-time").fill("08:30")
        page.locator("#id_book-site").select_option(str(site.pk))
        page.get_by_role("button", name="Book", exact=True).click()
        page.wait_for_selector("text=booked; the referrer has been told")
        sign_out(page)

        # The referrer sees the booking.
        sign_in(page, referrer.email)
        page.goto(f"/referrals/{referral.uuid}/")
        booking = page.locator("#booking").inner_text()
        assert "8:30" in booking or "08:30" in booking
        assert site.name in booking
        assert page.locator("#referral-status").inner_text() == "Booked"
        screenshot(page, "journey-referrer-booked")
        assert_accessible(page)

    referral.refresh_from_db()
    assert referral.status == Referral.Status.BOOKED
    statuses = list(referral.events.values_list("to_status", flat=True))
    assert statuses == [
        "draft", "submitted", "info_requested", "submitted", "accepted", "approved", "booked",
    ]  # fmt: skip
