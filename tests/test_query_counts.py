"""Pages and the packet take the same number of queries for 5 rows as for 50: the referral page
(documents, imaging, medicines, timeline, messages) and the packet context. The queue's and the
dashboard's own tests are in test_triage.py and test_intake.py."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from referrals import workflow
from referrals.models import ImagingStudy, Medicine, Referral, Site, StatusEvent
from referrals.packets.build import packet_context
from tests.factories import make_referral
from tests.files import image_bytes
from tests.test_packets import temp_upload


def add_rows(referral, by, numbers: range) -> None:
    """One more of everything the referral page and the packet list, for each number."""
    for i in numbers:
        ImagingStudy.objects.create(
            referral=referral, modality="CT", acute_fracture=False,
            performed_on=datetime.date(2026, 11, 1) + datetime.timedelta(days=i % 20),
        )  # fmt: skip
        Medicine.objects.create(referral=referral, kind="antiplatelet", name=f"Medicine {i}")
        StatusEvent.objects.create(
            referral=referral, from_status="submitted", to_status="submitted", by=by,
            note=f"Note {i}",
        )  # fmt: skip
        # A message with a document: one more message and one more attachment.
        workflow.message_post(
            referral=referral, by=by, body=f"Message {i}",
            files=[("pathology", temp_upload(f"bloods-{i}.png", image_bytes("PNG")))],
        )  # fmt: skip


def page_queries(client, referral) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(reverse("referral_detail", args=[referral.uuid]))
    assert response.status_code == 200
    return len(context)


@pytest.mark.parametrize("persona", ["referrer", "admin_user", "radiologist"])
def test_the_referral_page_takes_the_same_queries_for_5_and_50_rows(
    client, request, referrer, admin_user, radiologist, private_media, persona
):
    referral = make_referral(referrer, status="submitted")
    workflow.referral_accept(referral=referral, by=admin_user, radiologist=radiologist)
    add_rows(referral, referrer, range(5))
    client.force_login(request.getfixturevalue(persona))
    client.get(reverse("referral_detail", args=[referral.uuid]))  # the session's first request
    few = page_queries(client, referral)
    add_rows(referral, referrer, range(5, 50))
    many = page_queries(client, referral)
    html = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    assert "Message 49" in html and "bloods-49.png" in html and "Medicine 49" in html
    # session, the user with their roles (portal.backends), the referral (with its referrer's
    # profile, site and IR), the audit row; then one query each for its documents (the
    # request-information form reuses them), timeline, imaging, medicines, the requests for
    # information (with their answers), messages and their documents, the documents each answer
    # brought; for staff, the packets. The practice's details were read by the session's first
    # page and are kept (PRACTICE_DETAILS_CACHE_SECONDS); the unchanged session is not written.
    assert many == few == {"referrer": 12, "admin_user": 13, "radiologist": 12}[persona]


def test_the_packet_context_takes_the_same_queries_for_5_and_50_rows(
    referrer, admin_user, private_media, django_assert_num_queries
):
    referral = make_referral(referrer, status="submitted")
    add_rows(referral, admin_user, range(5))

    def context_queries():
        loaded = Referral.objects.select_related("referrer__referrer_profile", "preferred_site")
        fresh = loaded.get(pk=referral.pk)
        # imaging, medicines, current attachments, the answered requests with who asked
        # (referrer and profile are already loaded)
        with django_assert_num_queries(4):
            context = packet_context(fresh)
        return context

    assert len(context_queries()["attachments"]) == 5
    add_rows(referral, admin_user, range(5, 50))
    context = context_queries()
    assert (len(context["attachments"]), len(context["medicines"])) == (50, 50)


def test_the_staff_page_of_a_new_referral_with_every_action_takes_a_fixed_number_of_queries(
    client, referrer, admin_user, radiologist, private_media
):
    referral = make_referral(referrer, status="submitted")
    add_rows(referral, referrer, range(5))
    client.force_login(admin_user)
    client.get(reverse("referral_detail", args=[referral.uuid]))  # the session's first request
    few = page_queries(client, referral)
    add_rows(referral, referrer, range(5, 50))
    many = page_queries(client, referral)
    html = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    # The actions' forms, written by plain_field (not crispy), each control labelled.
    assert '<label for="id_accept-radiologist" class="form-label">' in html
    assert f'<option value="{radiologist.pk}">{radiologist.get_full_name()}</option>' in html
    assert (
        '<select class="form-select" id="id_decline-reason" name="decline-reason" required>' in html
    )
    # As the referral page above (12 without an IR assigned), plus the accept form's list of IRs.
    assert many == few == 13


def test_an_autosave_of_the_patient_section_writes_only_what_changed(client, referrer):
    referral = make_referral(referrer)
    client.force_login(referrer)
    data = {
        "patient_given_name": "Joan", "patient_family_name": "Sample",
        "patient_dob": "1941-05-02", "patient_sex": "female",
        "medicare_number": referral.medicare_number, "medicare_irn": "1",
        "patient_phone": "0400 000 003", "address_line": "4 Example Street",
        "suburb": "Carlton", "state": "VIC", "postcode": "3053", "patient_consent": "on",
        "preferred_site": str(Site.objects.create(name="Example Private Hospital").pk),
    }  # fmt: skip
    url = reverse("referral_autosave", args=[referral.uuid, "patient"])
    client.post(url, data)  # the first save (and the session's first request)
    data["patient_given_name"] = "Joanna"
    with CaptureQueriesContext(connection) as context:
        response = client.post(url, data)
    assert response.status_code == 200
    # session, the user with their roles, the referral (nothing joined); the changed field with
    # the draft in one UPDATE (savepoint, update, release); the audit row of the change. The
    # chosen hospital comes from the process's copy of the sites (referrals.forms.fields), and
    # full_clean does not ask whether it exists. No imaging query (the patient's details are not
    # criteria: no panel), no check-constraint queries, no second UPDATE, no reload.
    sql = [q["sql"] for q in context.captured_queries]
    assert len(sql) == 7, [q[:80] for q in sql]
    assert not any('"referrals_site"' in q for q in sql)
    update = next(q for q in sql if q.startswith('UPDATE "referrals_referral"'))
    # Only what changed: the other columns are not written back as this request read them.
    assert update.split(" WHERE ")[0].count(" = ") == 3, update[:200]
    assert '"patient_given_name"' in update and '"patient_family_name"' not in update
    assert "eligibility-panel" not in response.content.decode()
    referral.refresh_from_db()
    assert referral.patient_given_name == "Joanna" and referral.draft_data == {}

    # The same again: nothing changed, so nothing is written (no UPDATE, no audit row).
    with CaptureQueriesContext(connection) as context:
        response = client.post(url, data)
    assert "Draft saved" in response.content.decode()
    writes = [q["sql"][:60] for q in context.captured_queries if not q["sql"].startswith("SELECT")]
    assert writes == [], writes


def test_an_autosave_of_the_clinical_section_returns_the_panel(client, referrer):
    referral = make_referral(referrer)
    client.force_login(referrer)
    url = reverse("referral_autosave", args=[referral.uuid, "clinical"])
    onset = str(timezone.localdate())
    data = {"levels": ["L1"], "pain_score": "7", "pain_onset": onset, "cause": ""}
    client.post(url, data)
    data["pain_score"] = "8"
    with CaptureQueriesContext(connection) as context:
        response = client.post(url, data)
    # As the patient section's (less the hospital: this section has none), plus the imaging for
    # the criteria panel it returns.
    assert len(context) == 8, [q["sql"][:80] for q in context.captured_queries]
    assert 'id="eligibility-panel"' in response.content.decode()


def test_the_check_constraints_apply_unless_a_field_they_read_is_left_out(db, monkeypatch):
    from django.core.exceptions import ValidationError
    from django.db.models import Q

    referral = Referral(pain_score=11, medicare_irn=5)
    with pytest.raises(ValidationError, match="referral_pain_score_0_10"):
        referral.validate_constraints()
    referral.pain_score, referral.medicare_irn = 5, 10
    with pytest.raises(ValidationError, match="referral_irn_1_9"):
        referral.validate_constraints(exclude={"pain_score"})

    # Both left out (as a section's form leaves them): nothing to check, and no check's query
    # even built (Django built each before finding a field left out).
    def built(*args, **kwargs):
        raise AssertionError("a check constraint's query was built")

    monkeypatch.setattr(Q, "check", built)
    referral.validate_constraints(exclude={"pain_score", "medicare_irn", "ihi"})
