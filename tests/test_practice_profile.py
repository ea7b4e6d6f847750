"""The practice's contact details: one practice-wide row, first from settings, edited by the
practice's admins, shown to referrers on every referral page and in every email's footer."""

import pytest
from django.urls import reverse

from portal.models import AuditEvent, PracticeProfile
from referrals.notifications import EVENTS, notification_message
from tests.factories import make_referral


@pytest.fixture
def sent(referrer):
    return make_referral(referrer, status="submitted")


def test_the_defaults_come_from_settings_and_show_on_the_referral_page(
    client, settings, referrer, sent
):
    settings.PRACTICE_URGENT_PHONE = "03 9555 0101"
    client.force_login(referrer)

    page = client.get(reverse("referral_detail", args=[sent.uuid])).content.decode()
    assert 'id="practice-contact"' in page and "03 9555 0101" in page
    draft = make_referral(referrer)
    section = client.get(reverse("referral_section", args=[draft.uuid, "patient"]))
    assert "03 9555 0101" in section.content.decode()
    assert PracticeProfile.objects.get().urgent_phone == "03 9555 0101"


def test_an_admin_edits_them_and_referrers_and_emails_show_the_new_ones(
    client, admin_user, referrer, sent
):
    client.force_login(admin_user)
    assert client.get(reverse("practice_profile")).status_code == 200
    response = client.post(reverse("practice_profile"), {
        "name": "Example Spine Radiology", "urgent_phone": "03 9555 0199", "fax": "03 9555 0198",
        "address": "5 Example Lane, Parkville VIC 3052", "hours": "Weekdays 7 am to 6 pm",
    })  # fmt: skip
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="practice_changed")
    assert "urgent_phone" in event.detail

    client.force_login(referrer)
    page = client.get(reverse("referral_detail", args=[sent.uuid])).content.decode()
    assert "Example Spine Radiology" in page and "03 9555 0199" in page
    for event in EVENTS:
        body = notification_message(referral=sent, event=event, recipient=referrer.email).body
        assert "Urgent cases: 03 9555 0199 · Fax: 03 9555 0198" in body, event
        assert "Weekdays 7 am to 6 pm" in body


def test_a_blank_phone_is_refused_naming_the_field(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("practice_profile"), {"name": "Practice", "urgent_phone": ""})
    assert response.status_code == 400
    assert "Phone for urgent cases: This field is required." in response.content.decode()
    assert PracticeProfile.objects.get().urgent_phone != ""


def test_a_referrer_cannot_edit_them(client, referrer):
    client.force_login(referrer)
    assert client.get(reverse("practice_profile")).status_code == 403
    response = client.post(reverse("practice_profile"), {"name": "X", "urgent_phone": "1"})
    assert response.status_code == 403
    assert PracticeProfile.objects.filter(name="X").count() == 0


def test_account_emails_end_with_the_practice_details_too(client, db, mailoutbox, referrer):
    PracticeProfile.load()
    PracticeProfile.objects.update(urgent_phone="03 9555 0177")
    client.post(reverse("password_reset"), {"email": referrer.email})
    assert len(mailoutbox) == 1
    assert "Urgent cases: 03 9555 0177" in mailoutbox[0].body


def practice_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return sum('"portal_practiceprofile"' in q["sql"] for q in context.captured_queries)


def test_pages_read_the_details_once_a_while_and_emails_each_time(client, settings, referrer, sent):
    settings.PRACTICE_DETAILS_CACHE_SECONDS = 3600
    PracticeProfile.load()  # the row, made from settings
    client.force_login(referrer)
    url = reverse("referral_detail", args=[sent.uuid])
    assert practice_queries(client, url) == 1
    assert practice_queries(client, url) == 0  # this process's copy

    # An edit saved in another process (no signal here): emails have it at once, pages in this
    # process once their copy is PRACTICE_DETAILS_CACHE_SECONDS old.
    PracticeProfile.objects.filter(pk=1).update(urgent_phone="03 9555 0177")
    event = next(iter(EVENTS))
    body = notification_message(referral=sent, event=event, recipient=referrer.email).body
    assert "03 9555 0177" in body
    assert "03 9555 0177" not in client.get(url).content.decode()
    settings.PRACTICE_DETAILS_CACHE_SECONDS = 0
    assert "03 9555 0177" in client.get(url).content.decode()

    # An edit saved in this process shows on the next page at once.
    settings.PRACTICE_DETAILS_CACHE_SECONDS = 3600
    assert practice_queries(client, url) == 0
    profile = PracticeProfile.objects.get()
    profile.urgent_phone = "03 9555 0166"
    profile.save()
    assert "03 9555 0166" in client.get(url).content.decode()
