"""The referring doctor's journey through HTTP: drafts, sections, autosave, submit, withdraw,
answering a request for information, the dashboard and sign-up."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import User
from referrals import errors, intake, selectors, workflow
from referrals.models import ImagingStudy, Referral, StatusEvent
from tests.factories import (
    ReferrerFactory,
    complete_patient,
    make_medicare_number,
    make_provider_number,
    make_referral,
)

S = Referral.Status


@pytest.fixture
def draft(referrer):
    return make_referral(referrer)


@pytest.fixture
def submitted(referrer):
    return make_referral(referrer, status="submitted")


def section_url(referral, section):
    return reverse("referral_section", args=[referral.uuid, section])


def patient_post(**overrides):
    data = complete_patient()
    data["patient_dob"] = data["patient_dob"].isoformat()
    data["patient_consent"] = "on"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- access -------------------------------------------------------------------------------------


def referral_urls(referral):
    return [
        reverse("referral_detail", args=[referral.uuid]),
        section_url(referral, "patient"),
        section_url(referral, "clinical"),
        section_url(referral, "imaging"),
        section_url(referral, "documents"),
        section_url(referral, "review"),
        reverse("referral_panel", args=[referral.uuid]),
    ]


def test_the_owner_opens_every_page_of_their_draft(client, referrer, draft):
    client.force_login(referrer)
    for url in referral_urls(draft):
        assert client.get(url).status_code == 200, url


def test_another_referrer_gets_404_on_every_page(client, other_referrer, draft):
    client.force_login(other_referrer)
    for url in referral_urls(draft):
        assert client.get(url).status_code == 404, url
    posts = [
        reverse("referral_autosave", args=[draft.uuid, "patient"]),
        reverse("referral_withdraw", args=[draft.uuid]),
        reverse("referral_answer", args=[draft.uuid]),
        reverse("attachment_upload", args=[draft.uuid]),
    ]
    for url in posts:
        assert client.post(url, {}).status_code == 404, url
    draft.refresh_from_db()
    assert draft.status == S.DRAFT


def test_anonymous_visitors_are_sent_to_sign_in(client, draft):
    for url in referral_urls(draft):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url, url


def test_an_admin_cannot_see_a_draft_but_sees_it_once_submitted(client, admin_user, draft):
    client.force_login(admin_user)
    url = reverse("referral_detail", args=[draft.uuid])
    assert client.get(url).status_code == 404
    workflow.referral_submit(referral=draft, by=draft.referrer, outside_criteria_reason="x")
    assert client.get(url).status_code == 200


def test_an_unassigned_radiologist_gets_404(client, radiologist, submitted):
    client.force_login(radiologist)
    assert client.get(reverse("referral_detail", args=[submitted.uuid])).status_code == 404


# --- drafts and sections ------------------------------------------------------------------------


def test_starting_a_referral_creates_a_draft_with_a_reference(client, referrer):
    client.force_login(referrer)
    response = client.post(reverse("referral_new"))
    referral = Referral.objects.get(referrer=referrer)
    assert response.url == section_url(referral, "patient")
    assert referral.status == S.DRAFT
    year = timezone.localdate().year
    assert referral.reference.startswith(f"VP-{year}-")
    assert referral.events.get().to_status == S.DRAFT


def test_references_are_sequential_and_unique(referrer):
    first = intake.referral_create(referrer=referrer)
    second = intake.referral_create(referrer=referrer)
    assert int(second.reference[-5:]) == int(first.reference[-5:]) + 1


def test_saving_the_patient_section_stores_the_fields(client, referrer):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    data = patient_post(next="clinical")
    response = client.post(section_url(referral, "patient"), data)
    assert response.status_code == 302 and response.url == section_url(referral, "clinical")
    referral.refresh_from_db()
    assert referral.patient_family_name == "Sample"
    assert referral.medicare_number == data["medicare_number"]
    assert referral.patient_consent is True
    assert referral.draft_data == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("medicare_number", "2950123450", "check digit"),
        ("ihi", "8003601234567890", "check digit"),
        ("postcode", "2000", "not in VIC"),
        ("postcode", "30x3", "four digits"),
        ("patient_dob", "2099-01-01", "future"),
        ("patient_dob", "1850-01-01", "over 120"),
        ("medicare_irn", "0", "Select a valid choice"),
    ],
)
def test_a_bad_value_is_named_in_the_error_summary(client, referrer, field, value, message):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    response = client.post(section_url(referral, "patient"), patient_post(**{field: value}))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="error-summary"' in html
    assert f'href="#id_{field}"' in html
    assert message in html


def test_a_draft_survives_a_validation_error_and_a_reload(client, referrer):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    typed = patient_post(medicare_number="2950123450", patient_given_name="Dorothy")
    client.post(section_url(referral, "patient"), typed)
    # A reload (a new GET) shows everything typed, including the bad number, and the error.
    html = client.get(section_url(referral, "patient")).content.decode()
    assert 'value="2950123450"' in html
    assert 'value="Dorothy"' in html
    assert "check digit" in html
    referral.refresh_from_db()
    assert referral.draft_data["patient"]["patient_given_name"] == ["Dorothy"]


def test_autosave_keeps_what_is_typed_and_returns_the_panel(client, referrer):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    url = reverse("referral_autosave", args=[referral.uuid, "clinical"])
    today = timezone.localdate()
    response = client.post(
        url, {"levels": ["L1"], "pain_score": "8", "pain_onset": str(today), "cause": ""}
    )
    html = response.content.decode()
    assert "Draft saved" in html
    assert 'hx-swap-oob="true"' in html and 'id="eligibility-panel"' in html
    assert 'data-criterion="level" data-status="pass"' in html
    referral.refresh_from_db()
    assert (referral.levels, referral.pain_score, referral.pain_onset) == (["L1"], 8, today)


def test_an_autosave_writes_only_its_own_fields_so_a_stale_read_loses_nothing(referrer):
    """Two saves from the same read (two tabs, or two autosaves in flight): each writes the
    columns it changed, so neither puts back the other's as it read them."""
    from referrals.views.intake import FORMS

    referral = intake.referral_create(referrer=referrer)
    stale_a = Referral.objects.get(pk=referral.pk)
    stale_b = Referral.objects.get(pk=referral.pk)
    form = FORMS["patient"](patient_post(patient_given_name="Dorothy"), instance=stale_a)
    assert intake.referral_save_section(referral=stale_a, section="patient", form=form)
    today = str(timezone.localdate())
    clinical = {"levels": ["L1"], "pain_score": "8", "pain_onset": today, "cause": ""}
    form = FORMS["clinical"](clinical, instance=stale_b)
    assert intake.referral_save_section(referral=stale_b, section="clinical", form=form)
    referral.refresh_from_db()
    assert referral.patient_given_name == "Dorothy" and referral.pain_score == 8


def test_the_patient_section_holds_no_criteria_fact_so_its_autosave_leaves_the_panel(referrer):
    """The autosave returns the criteria panel only for the sections in CRITERIA_SECTIONS: no
    field of the others may be one the eligibility facts are read from."""
    from referrals.views.intake import CRITERIA_SECTIONS, FORMS

    referral = make_referral(referrer)  # every fact known
    facts = set(intake.referral_facts(referral))
    assert {"levels", "pain_onset", "imaging"} <= facts
    for section, form in FORMS.items():
        fields = set(getattr(getattr(form, "Meta", None), "fields", ()))
        if section not in CRITERIA_SECTIONS:
            assert not fields & facts, section
    assert FORMS["clinical"].Meta.fields and facts - {"imaging"} <= set(
        FORMS["clinical"].Meta.fields
    )


def test_autosave_of_an_invalid_value_keeps_it_raw(client, referrer):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    url = reverse("referral_autosave", args=[referral.uuid, "patient"])
    response = client.post(url, {"medicare_number": "12"})
    assert "Draft kept" in response.content.decode()
    referral.refresh_from_db()
    assert referral.draft_data["patient"]["medicare_number"] == ["12"]
    assert referral.medicare_number == ""


def test_the_clinical_section_saves_levels_in_spinal_order_and_tri_states(client, referrer):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    data = {
        "levels": ["L1", "T12"],
        "cause": "osteoporotic",
        "pain_score": "7",
        "canal_compromise": "yes",
        "neurological_deficit": "no",
        "healed_fracture": "",
    }
    client.post(section_url(referral, "clinical"), data)
    referral.refresh_from_db()
    assert referral.levels == ["T12", "L1"]
    assert (referral.canal_compromise, referral.neurological_deficit) == (True, False)
    assert referral.healed_fracture is None


def test_the_imaging_section_saves_studies_and_medicines(client, referrer):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    data = {
        "imaging-TOTAL_FORMS": "1",
        "imaging-INITIAL_FORMS": "0",
        "imaging-0-modality": "SPECT-CT",
        "imaging-0-performed_on": str(timezone.localdate()),
        "imaging-0-acute_fracture": "yes",
        "imaging-0-location": "Example Hospital",
        "medicines-TOTAL_FORMS": "1",
        "medicines-INITIAL_FORMS": "0",
        "medicines-0-kind": "anticoagulant",
        "medicines-0-name": "Apixaban",
        "medicines-0-dose": "5 mg twice daily",
    }
    response = client.post(section_url(referral, "imaging"), data)
    assert response.status_code == 302
    study = referral.imaging.get()
    assert (study.modality, study.acute_fracture) == ("SPECT-CT", True)
    assert referral.medicines.get().name == "Apixaban"


def test_a_future_imaging_date_is_refused_with_its_row(client, referrer):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    data = {
        "imaging-TOTAL_FORMS": "1",
        "imaging-INITIAL_FORMS": "0",
        "imaging-0-modality": "MRI",
        "imaging-0-performed_on": "2099-01-01",
        "medicines-TOTAL_FORMS": "0",
        "medicines-INITIAL_FORMS": "0",
    }
    html = client.post(section_url(referral, "imaging"), data).content.decode()
    assert "Imaging row 1: The imaging date cannot be in the future." in html
    assert not referral.imaging.exists()


# --- submission ---------------------------------------------------------------------------------


def test_submitting_an_eligible_referral_stores_its_assessment(client, referrer, draft):
    client.force_login(referrer)
    response = client.post(section_url(draft, "review"), {})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == S.SUBMITTED
    assert draft.eligibility_outcome == "eligible"
    assert draft.eligibility["outcome"] == "eligible"
    assert draft.criteria_version == draft.eligibility["criteria_version"]
    assert draft.submitted_at is not None
    event = draft.events.last()
    assert (event.from_status, event.to_status, event.by) == (S.DRAFT, S.SUBMITTED, referrer)


def test_submitting_says_what_is_still_needed(client, referrer):
    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    html = client.post(section_url(referral, "review"), {}).content.decode()
    assert "Add the patient&#x27;s family name." in html
    assert "Confirm the patient consents to this referral." in html
    referral.refresh_from_db()
    assert referral.status == S.DRAFT


def test_submitting_names_the_saved_fact_the_checker_refuses(client, referrer):
    """A saved date after today (a clock moved, data from elsewhere): the doctor is told which
    fact to correct, not a general "check the dates"."""
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    referral = make_referral(referrer, coag_profile_on=tomorrow)
    client.force_login(referrer)
    html = client.post(section_url(referral, "review"), {}).content.decode()
    assert "The date of the latest coagulation profile is after today: check it." in html
    assert "Check the dates" not in html
    referral.refresh_from_db()
    assert referral.status == S.DRAFT
    panel = client.get(reverse("referral_panel", args=[referral.uuid])).content.decode()
    assert 'data-fact="coag_profile_on"' in panel


def test_an_ineligible_referral_needs_a_reason_and_then_goes(client, referrer):
    referral = make_referral(referrer, pain_score=4)
    client.force_login(referrer)
    html = client.post(section_url(referral, "review"), {}).content.decode()
    assert "the interventional radiologist will decide" in html
    referral.refresh_from_db()
    assert referral.status == S.DRAFT
    reason = "Severe pain despite the score; frail."
    client.post(section_url(referral, "review"), {"outside_criteria_reason": reason})
    referral.refresh_from_db()
    assert referral.status == S.SUBMITTED
    assert referral.eligibility_outcome == "ineligible"
    assert referral.outside_criteria_reason == reason


def test_the_stored_assessment_does_not_change_when_the_facts_age(referrer, submitted):
    stored = dict(submitted.eligibility)
    later = timezone.localdate() + datetime.timedelta(days=60)
    assert intake.referral_assess(submitted, today=later).outcome == "ineligible"
    submitted.refresh_from_db()
    assert submitted.eligibility == stored


def test_an_unapproved_referrer_cannot_submit_and_is_told_why(client, db):
    newcomer = ReferrerFactory(profile__approved_at=None)
    referral = make_referral(newcomer)
    client.force_login(newcomer)
    html = client.post(section_url(referral, "review"), {}).content.decode()
    assert "waiting for the practice" in html
    referral.refresh_from_db()
    assert referral.status == S.DRAFT


def test_a_likely_duplicate_is_warned_of_without_the_other_doctors_details(
    client, referrer, other_referrer
):
    first = make_referral(other_referrer, status="submitted", copy_to="Dr Secret Colleague")
    second = make_referral(
        referrer, medicare_number=first.medicare_number, medicare_irn=first.medicare_irn
    )
    client.force_login(referrer)
    html = client.get(section_url(second, "review")).content.decode()
    assert 'id="duplicate-warning"' in html
    assert first.reference not in html
    assert "Secret Colleague" not in html
    assert other_referrer.last_name not in html
    client.post(section_url(second, "review"), {"outside_criteria_reason": "x"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.possible_duplicate and second.possible_duplicate


def test_same_name_and_birth_date_is_a_likely_duplicate_too(referrer, other_referrer):
    first = make_referral(other_referrer, status="submitted")
    second = make_referral(referrer, medicare_number=make_medicare_number()[:9] + "1")
    assert list(selectors.possible_duplicates(second)) == [first]


def test_a_submitted_referral_can_no_longer_be_edited(client, referrer, submitted):
    client.force_login(referrer)
    response = client.post(section_url(submitted, "patient"), patient_post(suburb="Elsewhere"))
    assert response.status_code == 302
    assert response.url == reverse("referral_detail", args=[submitted.uuid])
    submitted.refresh_from_db()
    assert submitted.suburb == "Carlton"


# --- after submission ---------------------------------------------------------------------------


def test_withdrawing_records_the_reason(client, referrer, submitted):
    client.force_login(referrer)
    client.post(
        reverse("referral_withdraw", args=[submitted.uuid]), {"reason": "Pain has settled."}
    )
    submitted.refresh_from_db()
    assert submitted.status == S.WITHDRAWN
    assert submitted.events.last().note == "Pain has settled."


def test_a_withdrawn_referral_cannot_be_withdrawn_again(client, referrer, submitted):
    workflow.referral_withdraw(referral=submitted, by=referrer)
    client.force_login(referrer)
    response = client.post(reverse("referral_withdraw", args=[submitted.uuid]), follow=True)
    assert "cannot become" in response.content.decode()
    assert submitted.events.filter(to_status=S.WITHDRAWN).count() == 1


def test_answering_a_request_for_information_returns_it_to_the_practice(
    client, referrer, admin_user, submitted
):
    items = [{"kind": "criterion", "id": "coagulopathy", "label": "Coagulation status"}]
    workflow.referral_request_info(
        referral=submitted, by=admin_user, items=items, note="Please send the latest INR."
    )
    client.force_login(referrer)
    page = client.get(reverse("referral_detail", args=[submitted.uuid])).content.decode()
    assert "Coagulation status" in page and "Please send the latest INR." in page
    assert "window closes on" in page
    response = client.post(
        reverse("referral_answer", args=[submitted.uuid]), {"answer": "INR 1.1 on Monday."}
    )
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == S.SUBMITTED
    request = submitted.info_requests.get()
    assert request.answer == "INR 1.1 on Monday." and request.answered_at is not None


def test_an_answer_with_changed_facts_stores_the_new_assessment(referrer, admin_user, submitted):
    workflow.referral_request_info(referral=submitted, by=admin_user, items=[], note="Level?")
    Referral.objects.filter(pk=submitted.pk).update(levels=["L4"])
    submitted.refresh_from_db()
    workflow.referral_answer_info_request(referral=submitted, by=referrer, answer="It is L4.")
    submitted.refresh_from_db()
    assert submitted.eligibility_outcome == "ineligible"
    assert submitted.eligibility["criteria"][0]["status"] == "fail"


def test_an_empty_answer_is_refused_and_changes_nothing(client, referrer, admin_user, submitted):
    workflow.referral_request_info(referral=submitted, by=admin_user, items=[], note="INR?")
    client.force_login(referrer)
    response = client.post(reverse("referral_answer", args=[submitted.uuid]), {"answer": " "})
    assert response.status_code == 400
    assert "Answer an item, add a document or write a note" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == S.INFO_REQUESTED


def test_a_referrer_cannot_make_an_admins_transition(referrer, submitted):
    with pytest.raises(errors.TransitionNotAllowed):
        workflow.referral_transition(referral=submitted, to=S.ACCEPTED, by=referrer)
    submitted.refresh_from_db()
    assert submitted.status == S.SUBMITTED
    assert not StatusEvent.objects.filter(referral=submitted, to_status=S.ACCEPTED).exists()


def test_a_stale_transition_changes_nothing(referrer, admin_user, submitted):
    workflow.referral_transition(referral=submitted, to=S.ACCEPTED, by=admin_user)
    with pytest.raises(errors.TransitionNotAllowed, match="someone changed it"):
        workflow.referral_transition(
            referral=submitted, to=S.DECLINED, by=admin_user, expected_from=S.SUBMITTED
        )
    assert Referral.objects.get(pk=submitted.pk).status == S.ACCEPTED


# --- dashboard ----------------------------------------------------------------------------------


def test_the_dashboard_lists_only_the_referrers_own_last_changed_first(
    client, referrer, other_referrer
):
    older = make_referral(referrer, status="submitted")
    newer = make_referral(referrer, pain_score=3)
    theirs = make_referral(other_referrer)
    client.force_login(referrer)
    html = client.get(reverse("referral_list")).content.decode()
    assert html.index(newer.reference) < html.index(older.reference)
    assert theirs.reference not in html
    assert "Outside the criteria" in html  # the draft's live outcome
    assert "Meets the criteria" in html  # the submitted one's stored outcome


def dashboard_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse("referral_list")).status_code == 200
    return len(context)


def test_the_dashboard_pages_at_25_with_a_constant_number_of_queries(client, referrer):
    client.force_login(referrer)
    for _ in range(5):
        make_referral(referrer)
    client.get(reverse("referral_list"))  # the session's first request also checks for 2FA
    few = dashboard_queries(client)
    for _ in range(25):
        make_referral(referrer)
    # session, the user with their roles, count, the page of referrals, their imaging (one
    # prefetch), the profile (the practice's details are kept from the first page; the unchanged
    # session is not written).
    assert dashboard_queries(client) == few == 6
    html = client.get(reverse("referral_list")).content.decode()
    assert html.count("<tr>") == 26  # a header row and 25 referrals
    assert "Page 1 of 2" in html


# --- sign-up ------------------------------------------------------------------------------------


def test_a_doctor_signs_up_and_waits_for_approval(client, db, admin_user):
    data = {
        "first_name": "Riley",
        "last_name": "Example",
        "email": "riley@clinic.example",
        "password1": "a-long-enough-passphrase",
        "password2": "a-long-enough-passphrase",
        "provider_number": make_provider_number(),
        "practice_name": "Example Clinic",
        "address": "3 Example Lane, Fitzroy VIC 3065",
        "phone": "03 9000 0001",
    }
    response = client.post(reverse("signup"), data, follow=True)
    assert response.redirect_chain[-1][0] == reverse("signup_done")
    assert "check your email" in response.content.decode()
    client.post(reverse("login"), {"username": data["email"], "password": data["password1"]})
    assert "waiting for the practice" in client.get(reverse("referral_list")).content.decode()
    user = User.objects.get(email="riley@clinic.example")
    assert not user.referrer_profile.is_approved
    from portal.services import referrer_approve

    referrer_approve(profile=user.referrer_profile, by=admin_user)
    user.referrer_profile.refresh_from_db()
    assert user.referrer_profile.is_approved


def test_sign_up_refuses_a_bad_provider_number_keeping_the_rest(client, db):
    data = {"first_name": "Riley", "email": "riley@clinic.example", "provider_number": "2123456A"}
    html = client.post(reverse("signup"), data).content.decode()
    assert "check character" in html
    assert 'value="Riley"' in html
    assert not User.objects.filter(email="riley@clinic.example").exists()


def test_the_admin_action_approves_referrers(client, db):
    manager = User.objects.create_superuser("manager@practice.example", "a-long-password-1")
    pending = ReferrerFactory(profile__approved_at=None)
    client.force_login(manager)
    client.post(
        "/admin/portal/referrerprofile/",
        {"action": "approve", "_selected_action": [pending.referrer_profile.pk]},
    )
    pending.referrer_profile.refresh_from_db()
    assert pending.referrer_profile.approved_by == manager


def test_imaging_rows_belong_to_their_referral(referrer, draft):
    assert ImagingStudy.objects.filter(referral=draft).count() == 1


def test_autosaving_a_new_imaging_row_twice_keeps_one_row(client, referrer):
    """The autosave answer updates the row's hidden id, so the next autosave edits that row."""
    import re

    referral = intake.referral_create(referrer=referrer)
    client.force_login(referrer)
    url = reverse("referral_autosave", args=[referral.uuid, "imaging"])
    data = {
        "imaging-TOTAL_FORMS": "1",
        "imaging-INITIAL_FORMS": "0",
        "imaging-0-id": "",
        "imaging-0-modality": "MRI",
        "medicines-TOTAL_FORMS": "0",
        "medicines-INITIAL_FORMS": "0",
    }
    html = client.post(url, data).content.decode()
    for name, value in re.findall(r'name="([^"]+)" id="[^"]+" value="([^"]*)" hx-swap-oob', html):
        data[name] = value
    assert data["imaging-INITIAL_FORMS"] == "1"
    data["imaging-0-acute_fracture"] = "yes"
    client.post(url, data)
    study = referral.imaging.get()
    assert (study.modality, study.acute_fracture) == ("MRI", True)
