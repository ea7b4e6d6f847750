"""The practice's side through HTTP: every transition by its role, refusals that change
nothing, the queue (order, filters, search, pages, CSV), reviews and messages."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from referrals import errors, workflow
from referrals.models import Referral, Site, StatusEvent
from tests.factories import UserFactory, make_medicare_number, make_referral

S = Referral.Status


@pytest.fixture
def site(db):
    return Site.objects.create(name="Example Private Hospital")


@pytest.fixture
def submitted(referrer):
    return make_referral(referrer, status="submitted")


def act(client, referral, action, data=None, expected=None):
    payload = {f"{prefix(action)}-{k}": v for k, v in (data or {}).items()}
    payload["expected_status"] = expected or status_of(referral)
    return client.post(reverse("referral_action", args=[referral.uuid, action]), payload)


def prefix(action):
    return {"request_info": "info"}.get(action, action)


def status_of(referral):
    return Referral.objects.get(pk=referral.pk).status


def events(referral):
    return list(StatusEvent.objects.filter(referral=referral).values_list("to_status", flat=True))


# --- every allowed transition by its role -------------------------------------------------------


def test_an_admin_accepts_and_assigns_an_ir(client, admin_user, radiologist, submitted):
    client.force_login(admin_user)
    response = act(client, submitted, "accept", {"radiologist": radiologist.pk})
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert (submitted.status, submitted.assigned_radiologist) == (S.ACCEPTED, radiologist)
    event = submitted.events.last()
    assert (event.from_status, event.to_status, event.by) == (S.SUBMITTED, S.ACCEPTED, admin_user)


def test_an_admin_declines_with_a_coded_reason_and_the_referrer_gets_advice(
    client, admin_user, referrer, submitted
):
    client.force_login(admin_user)
    act(client, submitted, "decline", {"reason": "over_three_weeks", "note": "Onset unclear."})
    submitted.refresh_from_db()
    assert (submitted.status, submitted.decline_reason) == (S.DECLINED, "over_three_weeks")
    client.force_login(referrer)
    page = client.get(reverse("referral_detail", args=[submitted.uuid])).content.decode()
    assert "Pain for over three weeks" in page and "Onset unclear." in page
    assert "osteoporosis treatment" in page  # the advice that fits the reason


def test_declining_for_other_needs_a_note(client, admin_user, submitted):
    client.force_login(admin_user)
    act(client, submitted, "decline", {"reason": "other", "note": ""})
    assert status_of(submitted) == S.SUBMITTED


def test_an_admin_requests_targeted_information(client, admin_user, referrer):
    referral = make_referral(referrer, coagulopathy="", status="submitted")
    client.force_login(admin_user)
    page = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    assert 'value="criterion:coagulopathy"' in page  # each unknown criterion is offered
    assert 'value="document:pathology"' in page  # and each missing document kind
    act(
        client,
        referral,
        "request_info",
        {"items": ["criterion:coagulopathy", "document:pathology"], "note": "Please."},
    )
    referral.refresh_from_db()
    assert referral.status == S.INFO_REQUESTED
    request = referral.info_requests.get()
    assert [i["id"] for i in request.items] == ["coagulopathy", "pathology"]
    # The statement, not the criterion's wording (which would read as if the patient had it).
    assert request.items[0]["label"] == "Coagulopathy: not known"


def test_the_assigned_ir_approves_and_the_admin_books_then_completes(
    client, admin_user, radiologist, site, submitted
):
    workflow.referral_accept(referral=submitted, by=admin_user, radiologist=radiologist)
    client.force_login(radiologist)
    assert act(client, submitted, "approve", {"note": "Suitable."}).status_code == 302
    assert status_of(submitted) == S.APPROVED
    client.force_login(admin_user)
    when = timezone.localdate() + datetime.timedelta(days=3)
    # Whatever day that falls on (a weekend or holiday asks for confirmation: test_booking.py).
    act(client, submitted, "book", {"date": when.isoformat(), "time": "09:30", "site": site.pk,
                                    "confirm": "on"})  # fmt: skip
    submitted.refresh_from_db()
    assert submitted.status == S.BOOKED and submitted.booking_site == site
    assert timezone.localtime(submitted.booked_start).strftime("%H:%M") == "09:30"
    act(client, submitted, "complete")
    assert status_of(submitted) == S.COMPLETED
    assert events(submitted) == [
        "draft",
        "submitted",
        "accepted",
        "approved",
        "booked",
        "completed",
    ]


def test_a_booking_can_be_cancelled_to_rebook(admin_user, radiologist, site, submitted):
    workflow.referral_accept(referral=submitted, by=admin_user, radiologist=radiologist)
    workflow.referral_approve(referral=submitted, by=radiologist)
    start = timezone.now() + datetime.timedelta(days=2)
    workflow.referral_book(referral=submitted, by=admin_user, start=start, site=site)
    workflow.referral_rebook(referral=submitted, by=admin_user)
    submitted.refresh_from_db()
    assert (submitted.status, submitted.booked_start) == (S.APPROVED, None)


@pytest.mark.parametrize("to", ["declined", "request_info"])
def test_the_assigned_ir_can_decline_or_ask(client, admin_user, radiologist, submitted, to):
    workflow.referral_accept(referral=submitted, by=admin_user, radiologist=radiologist)
    client.force_login(radiologist)
    if to == "declined":
        act(client, submitted, "decline", {"reason": "contraindication", "note": ""})
        assert status_of(submitted) == S.DECLINED
    else:
        act(client, submitted, "request_info", {"note": "Is the INR corrected?"})
        assert status_of(submitted) == S.INFO_REQUESTED


# --- refusals change nothing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "action"),
    [
        ("referrer", "accept"),
        ("radiologist", "accept"),  # not assigned, and not the admin's step
        ("admin_user", "approve"),  # the IR's decision, not the admin's
        ("admin_user", "complete"),  # not booked
        ("admin_user", "book"),  # not approved
    ],
)
def test_a_wrong_role_or_state_is_refused_and_changes_nothing(
    client, request, persona, action, radiologist, site, submitted
):
    client.force_login(request.getfixturevalue(persona))
    before = events(submitted)
    data = {
        "radiologist": radiologist.pk,
        "date": (timezone.localdate() + datetime.timedelta(days=2)).isoformat(),
        "time": "10:00",
        "site": site.pk,
    }
    response = act(client, submitted, action, data)
    assert response.status_code in (302, 404)
    assert status_of(submitted) == S.SUBMITTED
    assert events(submitted) == before


def test_every_transition_not_in_the_table_is_refused_by_the_service(
    referrer, admin_user, radiologist
):
    """Each (from, to) pair outside the table, for every persona: refused, nothing written."""
    people = [referrer, admin_user, radiologist]
    for from_status in S.values:
        for to in S.values:
            allowed = workflow.TRANSITIONS.get((from_status, to))
            referral = make_referral(referrer)
            Referral.objects.filter(pk=referral.pk).update(
                status=from_status, assigned_radiologist=radiologist
            )
            referral.refresh_from_db()
            for person in people:
                may = allowed and workflow._may_act(person, referral, allowed)
                if may:
                    continue
                with pytest.raises(errors.TransitionNotAllowed):
                    workflow.referral_transition(referral=referral, to=to, by=person)
                assert status_of(referral) == from_status
            assert referral.events.count() == 1  # only "draft started"


def test_a_stale_action_gets_a_clear_message_and_changes_nothing(
    client, admin_user, radiologist, submitted
):
    client.force_login(admin_user)
    # The admin's page was loaded while "submitted"; another admin then accepted it.
    workflow.referral_accept(referral=submitted, by=admin_user, radiologist=radiologist)
    response = act(client, submitted, "decline", {"reason": "other", "note": "x"}, "submitted")
    follow = client.get(response.url).content.decode()
    assert "someone changed it while you were looking" in follow
    assert status_of(submitted) == S.ACCEPTED


# --- the queue ----------------------------------------------------------------------------------


def queue_refs(client, **params):
    html = client.get(reverse("triage_queue"), params).content.decode()
    import re

    return re.findall(r'<tr data-reference="([^"]+)"', html)


def test_the_queue_orders_by_window_then_oldest_received(client, admin_user, referrer):
    today = timezone.localdate()
    later = make_referral(
        referrer, pain_onset=today - datetime.timedelta(days=2), status="submitted"
    )
    sooner = make_referral(
        referrer, pain_onset=today - datetime.timedelta(days=19), status="submitted"
    )
    same1 = make_referral(
        referrer, pain_onset=today - datetime.timedelta(days=10), status="submitted"
    )
    same2 = make_referral(
        referrer, pain_onset=today - datetime.timedelta(days=10), status="submitted"
    )
    no_onset = make_referral(referrer, status="submitted")
    Referral.objects.filter(pk=no_onset.pk).update(pain_onset=None)  # e.g. imported, not typed
    make_referral(referrer)  # a draft never shows
    client.force_login(admin_user)
    assert queue_refs(client) == [r.reference for r in (sooner, same1, same2, later, no_onset)]


def test_days_left_are_highlighted_at_3_or_fewer_and_when_past(client, admin_user, referrer):
    today = timezone.localdate()
    make_referral(referrer, pain_onset=today - datetime.timedelta(days=18), status="submitted")
    make_referral(referrer, pain_onset=today - datetime.timedelta(days=25), status="submitted")
    make_referral(referrer, pain_onset=today - datetime.timedelta(days=5), status="submitted")
    client.force_login(admin_user)
    html = client.get(reverse("triage_queue")).content.decode()
    assert 'badge text-bg-dark" data-days-left="-4"' in html
    assert 'badge text-bg-danger" data-days-left="3"' in html
    assert '<span class="" data-days-left="16"' in html


def test_each_filter_and_search(client, admin_user, referrer, radiologist, site):
    a = make_referral(
        referrer, status="submitted", patient_family_name="Quill", preferred_site=site
    )
    b = make_referral(referrer, status="submitted", pain_score=3, patient_given_name="Bea")
    c = make_referral(
        referrer, status="submitted", medicare_number=make_medicare_number()[:9] + "1"
    )
    workflow.referral_accept(referral=c, by=admin_user, radiologist=radiologist)
    client.force_login(admin_user)
    assert queue_refs(client, status="accepted") == [c.reference]
    assert queue_refs(client, outcome="ineligible") == [b.reference]
    assert queue_refs(client, site=site.pk) == [a.reference]
    assert queue_refs(client, radiologist=radiologist.pk) == [c.reference]
    assert queue_refs(client, q="quil") == [a.reference]
    assert queue_refs(client, q="bea sample") == [b.reference]
    assert queue_refs(client, q=c.medicare_number[:6]) == [c.reference]
    assert queue_refs(client, q=b.reference.lower()) == [b.reference]
    # Answered: a referral whose answer to a request waits for the practice's review.
    Referral.objects.filter(pk=a.pk).update(answered_at=timezone.now())
    assert queue_refs(client, status="answered") == [a.reference]
    assert (
        'value="answered">Answered: needs review</option>'
        in client.get(reverse("triage_queue")).content.decode()
    )


def test_the_filter_bar_keeps_what_was_chosen_and_escapes_the_search(
    client, admin_user, radiologist, site
):
    client.force_login(admin_user)
    html = client.get(
        reverse("triage_queue"),
        {"q": '"><script>x</script>', "outcome": "eligible", "site": site.pk},
    ).content.decode()
    assert 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in html
    assert "<script>x" not in html
    assert '<option value="eligible" selected>Meets the criteria</option>' in html
    assert f'<option value="{site.pk}" selected>{site.name}</option>' in html
    assert f'<option value="{radiologist.pk}">{radiologist.get_full_name()}</option>' in html
    assert "Nothing matches these filters." in html


def test_a_bad_filter_value_is_named_and_the_open_queue_shown(client, admin_user, referrer):
    r = make_referral(referrer, status="submitted")
    client.force_login(admin_user)
    response = client.get(reverse("triage_queue"), {"status": "lost", "site": "x"})
    html = response.content.decode()
    assert response.status_code == 200
    invalid = 'id="id_status" class="form-select is-invalid" aria-describedby="id_status_error"'
    assert invalid in html
    assert "Select a valid choice. lost is not one of the available choices." in html
    assert 'id="id_site_error" class="invalid-feedback">Select a valid choice.' in html
    assert queue_refs(client, status="lost") == [r.reference]


def test_the_name_search_is_served_by_a_trigram_index_on_postgresql(db):
    """icontains is UPPER(name) LIKE '%WORD%'; only a trigram index on the same expression
    serves it (migration 0006). SQLite, the embedded mode, gets no such index."""
    from django.db import connection

    from referrals.selectors import triage_queue

    queue = triage_queue(q="quill", status="all")  # no status index to choose instead
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # An empty table is cheapest read whole, or along the queue's own index.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            sql, params = queue.matching.query.sql_with_params()  # before the order's parts
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "referral_family_name_trgm_idx" in plan, plan
            assert "referral_given_name_trgm_idx" in plan
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE name LIKE '%trgm%'")
            assert cursor.fetchall() == []


def test_the_queue_pages_at_50(client, admin_user, referrer):
    for _ in range(52):
        make_referral(referrer, status="submitted")
    client.force_login(admin_user)
    assert len(queue_refs(client)) == 50
    assert len(queue_refs(client, page=2)) == 2


def queue_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse("triage_queue")).status_code == 200
    return len(context)


def test_the_queue_takes_the_same_queries_for_5_and_50_rows(
    client, admin_user, referrer, radiologist
):
    for _ in range(5):
        r = make_referral(referrer, status="submitted")
    workflow.referral_accept(referral=r, by=admin_user, radiologist=radiologist)
    client.force_login(admin_user)
    client.get(reverse("triage_queue"))  # the session's first request also checks for 2FA
    few = queue_queries(client)
    for _ in range(45):
        make_referral(referrer, status="submitted")
    # session, the user with their roles, the capped count of each part of the queue's order
    # (3), the page (IR joined, packet status a subquery); the filter form's hospitals and IRs
    # are the process's copies (portal.process_copy), the practice's details too, and the
    # unchanged session is not written.
    assert queue_queries(client) == few == 6


def test_the_csv_has_the_filtered_rows_and_no_formulas(client, admin_user, referrer):
    make_referral(referrer, status="submitted", patient_given_name='=HYPERLINK("x")')
    make_referral(referrer, status="submitted", pain_score=2)
    client.force_login(admin_user)
    response = client.get(reverse("triage_queue_csv"), {"outcome": "eligible"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Reference", "Patient", "Age"]
    assert len(rows) == 2
    assert rows[1][1] == '\'=HYPERLINK("x") Sample'  # quoted, so never run as a formula
    assert all(not cell.startswith("=") for row in rows for cell in row)


def test_the_queue_and_csv_are_for_admins_only(client, referrer, radiologist):
    for person in (referrer, radiologist):
        client.force_login(person)
        assert client.get(reverse("triage_queue")).status_code == 403
        assert client.get(reverse("triage_queue_csv")).status_code == 403


def test_duplicates_are_flagged_in_the_queue(client, admin_user, referrer, other_referrer):
    first = make_referral(other_referrer, status="submitted")
    make_referral(
        referrer,
        status="submitted",
        medicare_number=first.medicare_number,
        medicare_irn=first.medicare_irn,
    )
    client.force_login(admin_user)
    assert client.get(reverse("triage_queue")).content.decode().count("Possible duplicate") == 2


# --- reviews and messages -----------------------------------------------------------------------


def test_my_reviews_lists_what_is_assigned_to_me_awaiting_first(
    client, admin_user, radiologist, referrer, site
):
    other_ir = UserFactory(role="radiologist")
    mine = make_referral(referrer, status="submitted")
    approved = make_referral(referrer, status="submitted")
    theirs = make_referral(referrer, status="submitted")
    for r, ir in ((mine, radiologist), (approved, radiologist), (theirs, other_ir)):
        workflow.referral_accept(referral=r, by=admin_user, radiologist=ir)
    workflow.referral_approve(referral=approved, by=radiologist)
    client.force_login(radiologist)
    html = client.get(reverse("review_list")).content.decode()
    assert html.index(mine.reference) < html.index(approved.reference)
    assert theirs.reference not in html
    assert "Awaiting IR review" in html
    page = client.get(reverse("referral_detail", args=[mine.uuid])).content.decode()
    assert "Suitable: approve for the procedure" in page


def test_messages_go_both_ways_with_a_document(client, admin_user, referrer, submitted):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.files import pdf_bytes

    client.force_login(admin_user)
    client.post(
        reverse("message_create", args=[submitted.uuid]),
        {"body": "Could you send the MRI report?"},
    )
    client.force_login(referrer)
    client.post(
        reverse("message_create", args=[submitted.uuid]),
        {
            "body": "Attached.",
            "kind": "imaging_report",
            "file": SimpleUploadedFile("mri.pdf", pdf_bytes(1)),
        },
    )
    thread = list(submitted.messages.all())
    assert [m.body for m in thread] == ["Could you send the MRI report?", "Attached."]
    assert thread[0].from_practice and not thread[1].from_practice
    assert thread[1].attachments.get().original_name == "mri.pdf"
    page = client.get(reverse("referral_detail", args=[submitted.uuid])).content.decode()
    assert "Could you send the MRI report?" in page and "mri.pdf" in page


def test_another_referrer_cannot_post_a_message(client, other_referrer, submitted):
    client.force_login(other_referrer)
    response = client.post(reverse("message_create", args=[submitted.uuid]), {"body": "hi"})
    assert response.status_code == 404
    assert not submitted.messages.exists()


@pytest.mark.django_db(transaction=True)
def test_two_admins_at_once_exactly_one_wins(referrer, admin_user, radiologist):
    """Two connections race to act on the same submitted referral: the row lock lets one in;
    the other sees the new status and changes nothing."""
    import threading

    from django.db import connection

    referral = make_referral(referrer, status="submitted")
    second_admin = UserFactory(role="admin")
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(action):
        try:
            barrier.wait(timeout=10)
            action()
            outcomes.append("won")
        except errors.TransitionNotAllowed:
            outcomes.append("refused")
        finally:
            connection.close()  # each thread has its own connection

    accept = lambda: workflow.referral_accept(  # noqa: E731
        referral=Referral.objects.get(pk=referral.pk),
        by=admin_user,
        radiologist=radiologist,
        expected_from=S.SUBMITTED,
    )
    decline = lambda: workflow.referral_decline(  # noqa: E731
        referral=Referral.objects.get(pk=referral.pk),
        by=second_admin,
        reason="other",
        note="Duplicate",
        expected_from=S.SUBMITTED,
    )
    threads = [threading.Thread(target=attempt, args=(a,)) for a in (accept, decline)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "won"]
    referral.refresh_from_db()
    assert referral.status in (S.ACCEPTED, S.DECLINED)
    assert events(referral) == ["draft", "submitted", referral.status]
