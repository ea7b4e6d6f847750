"""The audit page reads as sentences: one sitting's autosaves of a section fold into one row
naming the fields changed (never their values); filters by kind and by person."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit import audit_record
from portal.models import AuditEvent
from referrals import intake, workflow
from tests.factories import complete_patient

pytestmark = pytest.mark.django_db


def audit_page(client, referral, **query):
    response = client.get(reverse("referral_audit", args=[referral.uuid]), query)
    assert response.status_code == 200
    return response


def sentences(response) -> list[str]:
    return [row["sentence"] for row in response.context["rows"]]


def autosave(client, referral, section, data):
    response = client.post(reverse("referral_autosave", args=[referral.uuid, section]), data)
    assert "Draft saved" in response.content.decode()


@pytest.fixture
def sent_after_edits(client, referrer):
    """A referral whose doctor typed the levels, cause and pain score, then the onset, then
    changed the patient's phone, then the pain score again; and then sent it."""
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    patient = {k: str(v) for k, v in complete_patient().items() if k != "patient_consent"}
    patient["patient_consent"] = "on"
    autosave(client, referral, "patient", patient)
    onset = str(timezone.localdate() - datetime.timedelta(days=3))
    clinical = {"levels": ["L1"], "cause": "osteoporotic", "pain_score": "8"}
    autosave(client, referral, "clinical", clinical)
    autosave(client, referral, "clinical", {**clinical, "pain_onset": onset})
    autosave(client, referral, "patient", {**patient, "patient_phone": "0400 111 222"})
    autosave(client, referral, "clinical", {**clinical, "pain_onset": onset, "pain_score": "9"})
    referral.refresh_from_db()
    workflow.referral_submit(referral=referral, by=referrer, outside_criteria_reason="Test")
    return referral


def test_one_sittings_edits_of_a_section_fold_into_one_row_naming_the_fields(
    client, sent_after_edits, admin_user
):
    client.force_login(admin_user)
    response = audit_page(client, sent_after_edits)
    rows = sentences(response)
    edits = [s for s in rows if s.startswith("Edited")]
    # Newest first. Consecutive saves of one section fold; another section's edit between
    # them starts a new row.
    assert edits[:3] == [
        "Edited clinical details: pain score now",
        "Edited patient details: phone",
        "Edited clinical details: fracture level or levels, cause of the fracture, "
        "pain score now, date the pain began",
    ]
    html = response.content.decode()
    assert "2 saves since" in html
    # Names of fields, never what was typed.
    assert "0400 111 222" not in html
    assert "Sent the referral to the practice: Draft → Submitted" in rows
    assert "submitted" not in " ".join(rows)  # no status code reaches the page


def test_the_fold_window_is_a_setting(client, sent_after_edits, admin_user, settings):
    settings.AUDIT_FOLD_MINUTES = 0  # saves a moment apart are separate sittings
    client.force_login(admin_user)
    edits = [s for s in sentences(audit_page(client, sent_after_edits)) if "clinical" in s]
    assert len(edits) == 3


def test_the_audit_page_filters_by_kind_and_by_person(client, sent_after_edits, admin_user):
    referral = sent_after_edits
    audit_record(action="referral_viewed", actor=admin_user, referral=referral)
    audit_record(
        action="packet_downloaded", actor=admin_user, referral=referral, object_repr="packet v1"
    )
    client.force_login(admin_user)

    views = sentences(audit_page(client, referral, kind="views"))
    assert views and set(views) == {"Viewed the referral"}
    downloads = sentences(audit_page(client, referral, kind="downloads"))
    assert downloads == ["Downloaded packet version 1"]
    by_admin = audit_page(client, referral, person=str(admin_user.pk))
    assert {row["event"].actor_id for row in by_admin.context["rows"]} == {admin_user.pk}
    by_doctor = audit_page(client, referral, person=str(referral.referrer_id))
    assert "Viewed the referral" not in sentences(by_doctor)
    # The filter keeps what was chosen; an unknown value is named and ignored.
    assert (
        'value="downloads" selected'
        in audit_page(client, referral, kind="downloads").content.decode()
    )
    odd = audit_page(client, referral, kind="everything", person="999999")
    html = odd.content.decode()
    assert "That kind of event is not one of the list" in html
    assert "That person has done nothing recorded here" in html
    assert len(odd.context["rows"]) == len(audit_page(client, referral).context["rows"])


def test_documents_and_messages_read_as_sentences(db, referrer, admin_user):
    from referrals.audit_trail import event_sentence

    def sentence(**fields):
        return event_sentence(AuditEvent(**fields))

    assert (
        sentence(action="referral_changed", detail="document added", object_repr="notes.pdf")
        == "Added the document “notes.pdf”"
    )
    assert sentence(action="message_sent") == "Sent a message"
    assert (
        sentence(action="packet_downloaded", detail="viewed inline", object_repr="packet v2")
        == "Opened packet version 2"
    )
    assert (
        sentence(action="referral_transition", detail="submitted → info_requested")
        == "Requested more information: Submitted → Information requested"
    )
    # Trails written before field names were recorded still read as a sentence.
    assert sentence(action="referral_changed", detail="patient edited") == "Edited patient details"
