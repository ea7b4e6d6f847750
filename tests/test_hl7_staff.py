"""The practice's side of a secure-message referral: the page says how it came, staff fill in
the clinical facts from the letter (audited, marked as theirs), a superuser links the doctor's
record to an account, and nobody else sees it."""

import pytest

from portal.models import AuditEvent
from referrals.hl7.identity import external_referrer_link
from referrals.hl7.receive import receive
from referrals.models import ExternalReferrer, Letter, Referral
from tests.conftest import assert_accessible, screenshot, sign_in
from tests.factories import ReferrerProfileFactory
from tests.hl7_messages import message


@pytest.fixture
def hl7_referral(db, private_media, settings, tmp_path):
    settings.HL7_OUTBOX_DIR = tmp_path / "outbox"
    assert receive(message(control="STAFF-1")).code == "AA"
    return Referral.objects.get()


def test_the_referral_page_says_it_came_by_secure_message_with_its_letters(
    client, admin_user, hl7_referral
):
    Letter.objects.filter(referral=hl7_referral).update(
        status="sent", ack_status="AR", ack_text="PRD^2^7 unknown recipient"
    )
    client.force_login(admin_user)
    page = client.get(f"/referrals/{hl7_referral.uuid}/").content.decode()
    assert "Received by secure message" in page
    assert "provider number 2758922W" in page and "no portal account" in page
    assert "rejected by the referrer's system" in page and "PRD^2^7" in page
    assert "Enter clinical facts from the letter" in page
    # In the queue with the others.
    assert hl7_referral.reference in client.get("/triage/").content.decode()


def test_staff_enter_the_facts_from_the_letter_audited_and_marked(client, admin_user, hl7_referral):
    client.force_login(admin_user)
    url = f"/referrals/{hl7_referral.uuid}/facts-from-letter/"
    assert client.get(url).status_code == 200
    kept = {
        "allergies": hl7_referral.allergies,
        "current_analgesia": hl7_referral.current_analgesia,
    }
    response = client.post(
        url, {"levels": ["L1"], "pain_score": "8", "cause": "osteoporotic", **kept}
    )
    assert response.status_code == 302
    hl7_referral.refresh_from_db()
    assert hl7_referral.pain_score == 8 and hl7_referral.levels == ["L1"]
    assert set(hl7_referral.staff_entered) == {"levels", "pain_score", "cause"}
    event = AuditEvent.objects.filter(referral=hl7_referral, action="referral_changed").last()
    assert event.actor == admin_user and "pain_score" in event.detail
    assert hl7_referral.packets.count() == 2  # a new version with the facts
    page = client.get(f"/referrals/{hl7_referral.uuid}/").content.decode()
    assert "Entered by the practice from the letter" in page and "Pain score" in page


def test_a_bad_value_is_kept_and_named(client, admin_user, hl7_referral):
    client.force_login(admin_user)
    url = f"/referrals/{hl7_referral.uuid}/facts-from-letter/"
    response = client.post(url, {"pain_onset": "2999-01-01", "history": "Fell at home"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="2999-01-01"' in page and "Fell at home" in page  # nothing typed is lost
    assert "is-invalid" in page
    hl7_referral.refresh_from_db()
    assert hl7_referral.pain_onset is None and not hl7_referral.staff_entered


def test_only_the_practice_admins_enter_facts_and_other_referrers_see_nothing(
    client, hl7_referral, other_referrer, radiologist
):
    url = f"/referrals/{hl7_referral.uuid}/facts-from-letter/"
    client.force_login(other_referrer)
    assert client.get(f"/referrals/{hl7_referral.uuid}/").status_code == 404
    assert client.get(url).status_code == 403
    client.force_login(radiologist)
    assert client.get(url).status_code == 403


def test_linking_the_doctor_to_an_account_moves_their_referrals(client, hl7_referral, admin_user):
    profile = ReferrerProfileFactory(provider_number="2758922W")
    record = ExternalReferrer.objects.get()
    assert external_referrer_link(record=record, user=profile.user, by=admin_user) == 1
    hl7_referral.refresh_from_db()
    assert hl7_referral.referrer == profile.user
    client.force_login(profile.user)
    assert client.get(f"/referrals/{hl7_referral.uuid}/").status_code == 200
    # The next message from that doctor goes straight to the account.
    receive(message(control="STAFF-2", originating="REF-NEXT"))
    assert Referral.objects.get(hl7_messages__control_id="STAFF-2").referrer == profile.user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_chromium_an_admin_fills_in_the_facts_from_the_letter(
    page, admin_user, private_media, settings, tmp_path
):
    settings.HL7_OUTBOX_DIR = tmp_path / "outbox"
    assert receive(message(control="BROWSER-1")).code == "AA"
    referral = Referral.objects.get()
    sign_in(page, admin_user.email)
    page.goto(f"/referrals/{referral.uuid}/")
    assert "Received by secure message" in page.inner_text("#secure-message")
    assert_accessible(page)
    page.get_by_role("link", name="Enter clinical facts from the letter").click()
    screenshot(page, "hl7-facts-from-letter")
    assert_accessible(page)
    page.get_by_label("Pain score").select_option("9")
    page.get_by_role("button", name="Save the facts").click()
    assert "Pain score" in page.inner_text("#staff-entered")
    screenshot(page, "hl7-referral-secure-message")
