"""Booking through HTTP: the pre-procedure instructions (the site's template and the medicines'
plan) stored with the booking and printed on the letter the referrer downloads; a weekend, a
Victorian public holiday or a date after the criteria's window asks for confirmation."""

import datetime
import html
from io import BytesIO

import holidays
import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from referrals import workflow
from referrals.models import Medicine, Referral, Site
from tests.factories import make_referral

S = Referral.Status


@pytest.fixture
def site(db):
    return Site.objects.create(
        name="Example Private Hospital", address="10 Example Street, Parkville",
        fasting="Nothing to eat from midnight.",
    )  # fmt: skip


def approved(referrer, admin_user, radiologist, **fields):
    referral = make_referral(referrer, status="submitted", **fields)
    workflow.referral_accept(referral=referral, by=admin_user, radiologist=radiologist)
    workflow.referral_approve(referral=referral, by=radiologist)
    return Referral.objects.get(pk=referral.pk)


def next_day(start: datetime.date, ok) -> datetime.date:
    day = start
    while not ok(day):
        day += datetime.timedelta(days=1)
    return day


VIC = holidays.country_holidays("AU", subdiv="VIC")


def plain_weekday(day):
    return day.weekday() < 5 and day not in VIC


def book(client, referral, day, site, **extra):
    data = {"book-date": day.isoformat(), "book-time": "09:30", "book-site": site.pk,
            "expected_status": S.APPROVED, **extra}  # fmt: skip
    return client.post(reverse("referral_action", args=[referral.uuid, "book"]), data)


def test_a_booking_carries_the_instructions_and_the_referrer_downloads_the_letter(
    client, referrer, admin_user, radiologist, other_referrer, site
):
    referral = approved(referrer, admin_user, radiologist)
    Medicine.objects.create(referral=referral, kind="anticoagulant", name="Apixaban",
                            dose="5 mg twice daily", plan="stop 48 hours before")  # fmt: skip
    Medicine.objects.create(referral=referral, kind="antiplatelet", name="Aspirin")
    day = next_day(timezone.localdate() + datetime.timedelta(days=2), plain_weekday)
    client.force_login(admin_user)

    assert book(client, referral, day, site).status_code == 302
    referral.refresh_from_db()
    assert referral.status == S.BOOKED
    sections = {s["heading"]: s["text"] for s in referral.booking_instructions}
    assert sections["Fasting"] == "Nothing to eat from midnight."
    plan = sections["Anticoagulant and antiplatelet medicines"]
    assert "Apixaban 5 mg twice daily (anticoagulant): stop 48 hours before." in plan
    assert "Aspirin (antiplatelet): the practice will tell you whether to stop it" in plan
    assert "What to bring" in sections and "Arrival" in sections

    client.force_login(referrer)
    page = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    assert "Pre-procedure instructions" in page and "Nothing to eat from midnight." in page
    response = client.get(reverse("booking_letter", args=[referral.uuid]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(BytesIO(response.content)).pages).split()
    )
    assert f"Vertebroplasty booking: {referral.reference}" in text
    assert f"{day:%A %-d %B %Y} at 09:30, Example Private Hospital" in text
    assert "stop 48 hours before" in text and "Nothing to eat from midnight." in text
    assert "Urgent cases:" in text

    # A later edit of the site's template does not rewrite this booking's letter.
    Site.objects.filter(pk=site.pk).update(fasting="Changed.")
    referral.refresh_from_db()
    assert "Nothing to eat from midnight." in str(referral.booking_instructions)

    client.force_login(other_referrer)
    assert client.get(reverse("booking_letter", args=[referral.uuid])).status_code == 404


@pytest.mark.parametrize("kind", ["weekend", "holiday", "window"])
def test_a_doubtful_date_asks_for_confirmation_with_its_reason(
    client, referrer, admin_user, radiologist, site, kind
):
    today = timezone.localdate()
    if kind == "window":
        # Pain began 15 days ago: the window closes in 6 days.
        referral = approved(referrer, admin_user, radiologist,
                            pain_onset=today - datetime.timedelta(days=15))  # fmt: skip
        day = next_day(today + datetime.timedelta(days=8), plain_weekday)
        says = f"The criteria's window closed on {referral.window_closes_on:%-d %B %Y}"
    else:
        referral = approved(referrer, admin_user, radiologist)
        if kind == "weekend":
            day = next_day(today + datetime.timedelta(days=1), lambda d: d.weekday() == 5)
            says = f"{day:%A %-d %B %Y} is a weekend day."
        else:
            day = next_day(today + datetime.timedelta(days=1),
                           lambda d: d in VIC and d.weekday() < 5)  # fmt: skip
            says = f"{day:%-d %B %Y} is a public holiday ({VIC.get(day)})."
    client.force_login(admin_user)

    refused = book(client, referral, day, site)
    assert refused.status_code == 400
    page = html.unescape(refused.content.decode())
    assert says in page
    assert "Book on this date anyway" in page
    assert Referral.objects.get(pk=referral.pk).status == S.APPROVED

    assert book(client, referral, day, site, **{"book-confirm": "on"}).status_code == 302
    assert Referral.objects.get(pk=referral.pk).status == S.BOOKED


def test_victorias_own_holidays_are_known():
    # Melbourne Cup Day and the Friday before the AFL Grand Final are Victorian, not national.
    assert "Melbourne Cup Day" in VIC.get(datetime.date(2026, 11, 3))
    assert datetime.date(2026, 11, 3) not in holidays.country_holidays("AU", subdiv="NSW")
