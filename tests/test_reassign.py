"""An admin reassigns an accepted referral to another IR, or undoes the acceptance, through
HTTP: audited, both IRs told, and the actions stay on the page after accepting."""

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit import AuditEvent
from referrals.models import Notification, Referral
from tests.factories import UserFactory, make_referral

S = Referral.Status


@pytest.fixture
def second_ir(db):
    """Dr Riley Park, another interventional radiologist."""
    return UserFactory(email="riley.ir@practice.example", role="radiologist",
                       first_name="Riley", last_name="Park")  # fmt: skip


@pytest.fixture
def accepted(client, referrer, admin_user, radiologist):
    referral = make_referral(referrer, status="submitted")
    client.force_login(admin_user)
    act(client, referral, "accept", {"radiologist": radiologist.pk})
    Notification.objects.all().delete()
    return Referral.objects.get(pk=referral.pk)


def act(client, referral, action, data=None):
    payload = {f"{action}-{k}": v for k, v in (data or {}).items()}
    payload["expected_status"] = Referral.objects.get(pk=referral.pk).status
    return client.post(reverse("referral_action", args=[referral.uuid, action]), payload)


def emails(referral):
    return set(Notification.objects.filter(referral=referral).values_list("recipient", "event"))


def test_the_actions_stay_after_accepting(client, accepted):
    page = client.get(reverse("referral_detail", args=[accepted.uuid])).content.decode()
    assert 'id="actions"' in page
    assert "Reassign to another IR" in page and "Undo the acceptance" in page
    assert "Accept and assign an IR" not in page


def test_an_admin_reassigns_to_another_ir_and_both_are_told(
    client, accepted, radiologist, second_ir
):
    response = act(client, accepted, "reassign", {"radiologist": second_ir.pk, "note": "Leave."})

    assert response.status_code == 302
    referral = Referral.objects.get(pk=accepted.pk)
    assert (referral.status, referral.assigned_radiologist) == (S.ACCEPTED, second_ir)
    assert emails(referral) == {(second_ir.email, "reassigned"), (radiologist.email, "unassigned")}
    assert AuditEvent.objects.filter(referral=referral, action="referral_reassigned").exists()
    assert "Reassigned to Riley Park" in referral.events.last().note
    # The first IR no longer has it; the second does.
    first, second = Client(), Client()
    first.force_login(radiologist)
    second.force_login(second_ir)
    assert accepted.reference not in first.get(reverse("review_list")).content.decode()
    assert first.get(reverse("referral_detail", args=[accepted.uuid])).status_code == 404
    assert accepted.reference in second.get(reverse("review_list")).content.decode()


def test_the_same_ir_is_not_offered_and_is_refused(client, accepted, radiologist):
    page = client.get(reverse("referral_detail", args=[accepted.uuid])).content.decode()
    reassign_form = page[page.index("Reassign to another IR") :]
    assert f'value="{radiologist.pk}"' not in reassign_form.split("</form>")[0]

    response = act(client, accepted, "reassign", {"radiologist": radiologist.pk})
    assert response.status_code == 400
    assert Notification.objects.count() == 0


def test_an_admin_undoes_an_acceptance_and_the_ir_is_told(client, accepted, radiologist):
    response = act(client, accepted, "undo_accept", {"note": "Assigned by mistake."})

    assert response.status_code == 302
    referral = Referral.objects.get(pk=accepted.pk)
    assert (referral.status, referral.assigned_radiologist) == (S.SUBMITTED, None)
    assert emails(referral) == {(radiologist.email, "unassigned")}
    fresh = Client()
    fresh.force_login(referral.events.last().by)
    assert referral.reference in fresh.get(reverse("triage_queue")).content.decode()


def test_an_ir_cannot_reassign_or_undo(client, accepted, radiologist, second_ir):
    client.force_login(radiologist)
    act(client, accepted, "reassign", {"radiologist": second_ir.pk})
    act(client, accepted, "undo_accept")
    referral = Referral.objects.get(pk=accepted.pk)
    assert (referral.status, referral.assigned_radiologist) == (S.ACCEPTED, radiologist)
