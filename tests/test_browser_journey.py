"""In Chromium, the whole journey with a real worker: a referrer submits; an admin accepts and
assigns an IR; the IR asks for two items; the referrer answers each; the IR who asked gets it
back, opens the packet and approves; the admins are told; one books (a weekend date, confirmed)
with the instructions; the referrer downloads the booking letter."""

import datetime
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from portal.celery import app
from referrals.models import Packet, Referral, Site
from tests.conftest import assert_accessible, screenshot, sign_in
from tests.factories import make_referral
from tests.files import pdf_bytes

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


def wait_for_email(mailoutbox, to, subject_part, timeout=60):
    """The worker sends emails from the outbox; wait for one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(to in m.to and subject_part in m.subject for m in mailoutbox):
            return
        time.sleep(0.3)
    raise AssertionError(
        f"no email to {to} about {subject_part!r}: {[m.subject for m in mailoutbox]}"
    )


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

        # The admin finds it in the queue, accepts it and assigns the IR.
        sign_in(page, admin_user.email)
        page.wait_for_url("**/triage/")
        row = page.get_by_role("row", name=referral.reference)
        assert "Submitted" in row.inner_text()
        screenshot(page, "journey-queue")
        assert_accessible(page)
        row.get_by_role("link", name=referral.reference).click()
        page.get_by_text("Accept and assign an IR").click()
        page.get_by_label("Assign to interventional radiologist").select_option(str(radiologist.pk))
        page.get_by_role("button", name="Accept and assign").click()
        page.wait_for_selector("text=accepted and assigned")
        # The actions stay: the admin could reassign or undo.
        assert page.get_by_text("Reassign to another IR").is_visible()
        sign_out(page)

        # The IR asks for two items: the coagulation status and the formal MRI report (an MRI
        # study is listed, so "Relevant imaging" alone would look met).
        sign_in(page, radiologist.email)
        page.goto(f"/referrals/{referral.uuid}/")
        page.get_by_text("Ask the referrer for more information").click()
        page.get_by_label("Coagulopathy: not known").check()
        page.get_by_label("Document: Imaging report").check()
        page.get_by_label("Note to the referrer").first.fill("Is there a bleeding disorder?")
        screenshot(page, "journey-ir-request")
        assert_accessible(page)
        page.get_by_role("button", name="Send request").click()
        page.wait_for_url("**/reviews/")
        sign_out(page)

        # The referrer answers each item on its own, with the window shown, then sends.
        sign_in(page, referrer.email)
        page.goto(f"/referrals/{referral.uuid}/")
        request_box = page.get_by_role("region", name="The practice asks for more information")
        assert "Coagulopathy: not known" in request_box.inner_text()
        assert "window closes on" in request_box.inner_text()
        screenshot(page, "journey-referrer-request")
        assert_accessible(page)
        page.locator("#id_item0-coagulopathy_1").check()  # none
        page.locator("#item-0").get_by_role("button", name="Save this answer").click()
        page.wait_for_selector("text=Saved your answer to “Coagulopathy: not known”")
        report = private_media.parent / "mri-report.pdf"
        report.write_bytes(pdf_bytes(pages=1))
        page.locator("#item-1 input[type=file]").set_input_files(str(report))
        page.locator("#item-1").get_by_role("button", name="Upload").click()
        page.wait_for_selector("text=Added “mri-report.pdf” for")
        assert page.locator("#item-0").get_attribute("data-answered") == "yes"
        assert page.locator("#item-1").get_attribute("data-answered") == "yes"
        screenshot(page, "journey-referrer-answered-items")
        assert_accessible(page)
        page.get_by_label("Note to the practice (optional)").fill("No bleeding disorder.")
        page.get_by_role("button", name="Send answer to the practice").click()
        page.wait_for_selector("text=Your answer has been sent")
        sign_out(page)

        # The IR who asked gets it back (My reviews and an email), without triage, and the
        # packet's next version has the requests and answers.
        wait_for_email(mailoutbox, radiologist.email, "the referrer answered your request")
        wait_for_packet(referral, 2)
        sign_in(page, radiologist.email)
        page.wait_for_url("**/reviews/")
        row_text = page.get_by_role("row", name=referral.reference).inner_text()
        assert "Answered: needs review" in row_text
        screenshot(page, "journey-ir-reviews-answered")
        assert_accessible(page)
        page.get_by_role("link", name=referral.reference).click()
        assert "Requests and answers" in page.locator("#requests").inner_text()
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

        # The admins are told of the decision; one books, on a weekend day: asked to confirm.
        wait_for_email(mailoutbox, admin_user.email, "ready to book")
        sign_in(page, admin_user.email)
        page.goto(f"/referrals/{referral.uuid}/")
        page.get_by_text("Book the procedure").click()
        day = timezone.localdate() + datetime.timedelta(days=1)
        while day.weekday() != 5:
            day += datetime.timedelta(days=1)
        page.locator("#id_book-date").fill(day.isoformat())
        page.locator("#id_book-time").fill("08:30")
        page.locator("#id_book-site").select_option(str(site.pk))
        page.get_by_role("button", name="Book", exact=True).click()
        assert "is a weekend day" in page.locator("#booking-concerns").inner_text()
        screenshot(page, "journey-admin-book-confirm")
        assert_accessible(page)
        page.get_by_label("Book on this date anyway").check()
        page.get_by_role("button", name="Book", exact=True).click()
        page.wait_for_selector("text=booked; the referrer has been told")
        sign_out(page)

        # The referrer sees the booking and its instructions, and downloads the letter.
        sign_in(page, referrer.email)
        page.goto(f"/referrals/{referral.uuid}/")
        booking = page.locator("#booking").inner_text()
        assert "8:30" in booking or "08:30" in booking
        assert site.name in booking
        assert page.locator("#referral-status").inner_text() == "Booked"
        page.get_by_text("Pre-procedure instructions").click()
        screenshot(page, "journey-referrer-booked")
        assert_accessible(page)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the booking letter (PDF)").click()
        letter = download.value.path().read_bytes()
        assert letter.startswith(b"%PDF")

    referral.refresh_from_db()
    assert referral.status == Referral.Status.BOOKED
    statuses = list(referral.events.values_list("to_status", flat=True))
    assert statuses == [
        "draft", "submitted", "accepted", "info_requested", "accepted", "approved", "booked",
    ]  # fmt: skip
