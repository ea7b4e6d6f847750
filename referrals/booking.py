"""Booking: the pre-procedure instructions a booking carries (the site's template, and the
anticoagulant and antiplatelet plan from the medicines recorded), and the dates that ask for
confirmation (a weekend, a public holiday where the practice works, after the criteria's
window closed)."""

from datetime import date
from functools import lru_cache

import holidays
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from portal.models import PracticeProfile
from referrals.models import Medicine, Referral, Site
from referrals.packets.pdf import render_html

# Used when a medicine was recorded without its plan: the practice's general rule.
DEFAULT_PLAN = {
    Medicine.Kind.ANTICOAGULANT: "the practice will tell you when to stop it before the "
    "procedure; do not stop it until told",
    Medicine.Kind.ANTIPLATELET: "the practice will tell you whether to stop it before the "
    "procedure; keep taking it until told",
}


def booking_instructions(referral: Referral, site: Site) -> list[dict]:
    """[{"heading", "text"}] for the patient and the GP: arrival, fasting, the medicines'
    plan, what to bring."""
    medicines = list(referral.medicines.all())
    if medicines:
        lines = [
            f"{m.name}{f' {m.dose}' if m.dose else ''} ({m.get_kind_display().lower()}): "
            f"{m.plan or DEFAULT_PLAN[m.kind]}."
            for m in medicines
        ]
        plan = " ".join(lines)
    else:
        plan = (
            "No anticoagulant or antiplatelet medicine was recorded. If the patient takes a "
            "blood thinner (for example warfarin, apixaban, rivaroxaban, clopidogrel or aspirin), "
            "tell the practice before the procedure."
        )
    sections = [
        ("Arrival", site.arrival),
        ("Fasting", site.fasting),
        ("Anticoagulant and antiplatelet medicines", plan),
        ("What to bring", site.what_to_bring),
    ]
    return [{"heading": heading, "text": text} for heading, text in sections if text.strip()]


@lru_cache(maxsize=8)
def _holidays(region: str, year: int):
    country, _, subdivision = region.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None, years=year)


def date_concerns(day: date, referral: Referral) -> list[str]:
    """Why a booking on `day` asks for confirmation: each reason in a sentence, none if fine."""
    concerns = []
    if day.weekday() >= 5:
        concerns.append(f"{day:%A %-d %B %Y} is a weekend day.")
    name = _holidays(settings.BOOKING_HOLIDAYS_REGION, day.year).get(day)
    if name:
        concerns.append(f"{day:%-d %B %Y} is a public holiday ({name}).")
    closes = referral.window_closes_on
    if closes is not None and day > closes:
        concerns.append(
            f"The criteria's window closed on {closes:%-d %B %Y}, before this date "
            f"(pain began {referral.pain_onset:%-d %B %Y})."
        )
    return concerns


def booking_letter_pdf(referral: Referral) -> bytes:
    """The booking letter for the referrer and the patient: when, where, and the instructions
    stored with the booking. WeasyPrint through the restricted fetcher (referrals/packets/pdf)."""
    html = render_to_string(
        "packets/booking_letter.html",
        {
            "referral": referral,
            "referrer": referral.referrer,
            "profile": getattr(referral.referrer, "referrer_profile", None),
            "start": timezone.localtime(referral.booked_start),
            "practice": PracticeProfile.load(),
            "today": timezone.localdate(),
        },
    )
    return render_html(html)
