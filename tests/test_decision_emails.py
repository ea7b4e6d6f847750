"""The emails each step of the practice's work sends, taken through HTTP as staff take them:
the admins hear of an IR's decision, the referrer of acceptance and completion, an IR of an
assignment. Each carries the reference and a link only."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from portal import roles
from referrals.models import Notification, Referral, Site
from referrals.notifications import notification_message
from tests.factories import UserFactory, make_referral

S = Referral.Status


@pytest.fixture
def second_admin(db):
    return UserFactory(email="robin.triage@practice.example", role=roles.ADMIN)


@pytest.fixture
def accepted(referrer, admin_user, radiologist, client):
    referral = make_referral(referrer, status="submitted")
    client.force_login(admin_user)
    act(client, referral, "accept", {"radiologist": radiologist.pk})
    client.logout()
    Notification.objects.all().delete()
    return Referral.objects.get(pk=referral.pk)


def act(client, referral, action, data=None):
    prefix = {"request_info": "info"}.get(action, action)
    payload = {f"{prefix}-{k}": v for k, v in (data or {}).items()}
    payload["expected_status"] = Referral.objects.get(pk=referral.pk).status
    response = client.post(reverse("referral_action", args=[referral.uuid, action]), payload)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def sent(referral) -> dict[str, set[str]]:
    """recipient -> the events they are emailed about."""
    out: dict[str, set[str]] = {}
    for row in Notification.objects.filter(referral=referral):
        out.setdefault(row.recipient, set()).add(row.event)
    return out


def subject(referral, event, recipient) -> str:
    return notification_message(referral=referral, event=event, recipient=recipient).subject


def test_accepting_tells_the_ir_it_is_theirs_and_the_referrer_it_was_accepted(
    client, referrer, admin_user, radiologist
):
    referral = make_referral(referrer, status="submitted")
    Notification.objects.all().delete()
    client.force_login(admin_user)

    act(client, referral, "accept", {"radiologist": radiologist.pk})

    assert sent(referral) == {radiologist.email: {"accepted"}, referrer.email: {"accepted"}}
    ref = referral.reference
    assert subject(referral, "accepted", radiologist.email) == f"{ref}: assigned to you for review"
    assert subject(referral, "accepted", referrer.email) == f"{ref}: referral accepted"
    body = notification_message(referral=referral, event="accepted", recipient=referrer.email).body
    assert "has accepted referral" in body and "assigned to you" not in body


def test_an_ir_approving_tells_every_admin_it_is_ready_to_book(
    client, accepted, radiologist, admin_user, second_admin, referrer
):
    client.force_login(radiologist)
    act(client, accepted, "approve")

    assert sent(accepted) == {admin_user.email: {"approved"}, second_admin.email: {"approved"}}
    assert subject(accepted, "approved", admin_user.email).endswith("ready to book")


def test_an_ir_finding_it_not_suitable_tells_the_admins_and_the_referrer(
    client, accepted, radiologist, admin_user, referrer
):
    client.force_login(radiologist)
    act(client, accepted, "decline", {"reason": "other", "note": "See the imaging."})

    assert sent(accepted) == {admin_user.email: {"declined"}, referrer.email: {"declined"}}
    ref = accepted.reference
    assert subject(accepted, "declined", admin_user.email) == f"{ref}: the IR found it not suitable"
    assert subject(accepted, "declined", referrer.email) == f"{ref}: referral declined"
    staff_body = notification_message(
        referral=accepted, event="declined", recipient=admin_user.email
    ).body
    assert "See the imaging" not in staff_body


def test_an_ir_asking_for_information_tells_the_admins_too(
    client, accepted, radiologist, admin_user, referrer
):
    client.force_login(radiologist)
    act(client, accepted, "request_info", {"note": "Please send the MRI report."})

    assert sent(accepted) == {
        admin_user.email: {"info_requested"},
        referrer.email: {"info_requested"},
    }


def test_an_admin_declining_does_not_email_the_admins(client, referrer, admin_user, second_admin):
    referral = make_referral(referrer, status="submitted")
    Notification.objects.all().delete()
    client.force_login(admin_user)

    act(client, referral, "decline", {"reason": "pain_under_7"})

    assert sent(referral) == {referrer.email: {"declined"}}


def test_completing_tells_the_referrer(client, accepted, radiologist, admin_user, referrer):
    client.force_login(radiologist)
    act(client, accepted, "approve")
    client.force_login(admin_user)
    site = Site.objects.create(name="Example Private Hospital")
    day = timezone.localdate() + datetime.timedelta(days=14)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    act(client, accepted, "book", {"date": day.isoformat(), "time": "09:30", "site": site.pk,
                                   "confirm": "on"})  # fmt: skip
    Notification.objects.all().delete()

    act(client, accepted, "complete")

    assert sent(accepted) == {referrer.email: {"completed"}}
    assert subject(accepted, "completed", referrer.email).endswith(": procedure completed")
