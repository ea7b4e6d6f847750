"""The hospitals the forms offer come from the process's copy of the sites
(referrals.forms.fields.SiteChoiceField): no query a form, an edit in the admin shown at once in
the process that saved it, and a hospital no longer offered refused with a clear message."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from referrals.forms.intake import PatientForm
from referrals.forms.staff import BookForm, QueueFilterForm
from referrals.models import Site
from tests.factories import make_referral


def options(form, name="preferred_site") -> list[str]:
    return [str(label) for _value, label in form.fields[name].choices]


def test_forms_offer_the_active_hospitals_from_one_query_a_while(db, settings):
    settings.PRACTICE_DETAILS_CACHE_SECONDS = 3600
    Site.objects.create(name="Example North Hospital")
    Site.objects.create(name="Example Closed Hospital", is_active=False)
    with CaptureQueriesContext(connection) as context:
        assert options(PatientForm()) == ["No preference", "Example North Hospital"]
        assert options(BookForm(), "site") == ["Choose…", "Example North Hospital"]
        # The queue's filter finds referrals at a hospital no longer offered too.
        assert options(QueueFilterForm(), "site") == [
            "Any", "Example Closed Hospital", "Example North Hospital",
        ]  # fmt: skip
    assert sum('"referrals_site"' in q["sql"] for q in context.captured_queries) == 1

    # Saved here (the admin): the next form has it.
    Site.objects.create(name="Example South Hospital")
    assert options(PatientForm())[-1] == "Example South Hospital"


def test_a_hospital_no_longer_offered_is_refused_and_an_empty_choice_is_none(db, settings):
    settings.PRACTICE_DETAILS_CACHE_SECONDS = 3600
    open_site = Site.objects.create(name="Example North Hospital")
    closed = Site.objects.create(name="Example Closed Hospital", is_active=False)
    field = PatientForm().fields["preferred_site"]
    assert field.clean(str(open_site.pk)) == open_site
    assert field.clean("") is None
    for bad in (str(closed.pk), "999999", "not-a-number"):
        form = BookForm({"date": "2030-01-07", "time": "09:00", "site": bad})
        assert not form.is_valid()
        assert "Select a valid choice" in form.errors["site"][0]


def test_a_hospital_closed_in_another_process_is_refused_once_the_copy_is_old(
    client, db, settings, referrer
):
    site = Site.objects.create(name="Example North Hospital")
    settings.PRACTICE_DETAILS_CACHE_SECONDS = 3600
    assert options(PatientForm())[-1] == "Example North Hospital"
    Site.objects.filter(pk=site.pk).update(is_active=False)  # as another process would
    assert options(PatientForm())[-1] == "Example North Hospital"  # this process's copy
    settings.PRACTICE_DETAILS_CACHE_SECONDS = 0
    assert options(PatientForm()) == ["No preference"]

    # Through the page: the doctor is told, and what they typed is kept as a draft.
    referral = make_referral(referrer)
    client.force_login(referrer)
    url = reverse("referral_autosave", args=[referral.uuid, "patient"])
    response = client.post(url, {"patient_given_name": "Joan", "preferred_site": str(site.pk)})
    assert "Preferred hospital" in response.content.decode()
    referral.refresh_from_db()
    assert referral.draft_data["patient"]["preferred_site"] == [str(site.pk)]


def test_the_queue_filter_lists_the_irs_from_the_copy_and_sees_a_new_one_saved_here(
    db, settings, radiologist
):
    from django.contrib.auth.models import Group

    from portal.models import User
    from portal.roles import RADIOLOGIST

    settings.PRACTICE_DETAILS_CACHE_SECONDS = 3600
    assert options(QueueFilterForm(), "radiologist") == ["Any", radiologist.get_full_name()]
    with CaptureQueriesContext(connection) as context:
        QueueFilterForm()
    assert not any('"portal_user"' in q["sql"] for q in context.captured_queries)

    # An IR given the role here shows on the next form; a role taken away, the same.
    other = User.objects.create_user(email="ir2@practice.example", password="x" * 16,
                                     first_name="Sam", last_name="Example")  # fmt: skip
    other.groups.add(Group.objects.get(name=RADIOLOGIST))
    assert "Sam Example" in options(QueueFilterForm(), "radiologist")
    other.groups.clear()
    assert "Sam Example" not in options(QueueFilterForm(), "radiologist")
