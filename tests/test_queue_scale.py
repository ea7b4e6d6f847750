"""The triage queue at scale (issues 16 and 18): "Open" is waiting on the practice, the order
puts open windows first, partial references and Medicare numbers are found, the count is capped,
and every search path is served by an index (plans checked on PostgreSQL)."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from referrals import workflow
from referrals.models import Referral
from referrals.selectors import possible_duplicates, triage_queue
from tests.factories import make_referral

S = Referral.Status


def refs(client, **params) -> list[str]:
    html = client.get(reverse("triage_queue"), params).content.decode()
    return re.findall(r'<tr data-reference="([^"]+)"', html)


def submitted(referrer, **fields):
    return make_referral(referrer, status="submitted", **fields)


def test_open_leaves_out_booked_and_completed_which_have_their_own_filters(
    client, admin_user, radiologist, referrer
):
    waiting = submitted(referrer)
    booked = submitted(referrer)
    workflow.referral_accept(referral=booked, by=admin_user, radiologist=radiologist)
    workflow.referral_approve(referral=booked, by=radiologist)
    Referral.objects.filter(pk=booked.pk).update(status=S.BOOKED)
    completed = submitted(referrer)
    Referral.objects.filter(pk=completed.pk).update(status=S.COMPLETED)
    client.force_login(admin_user)
    assert refs(client) == [waiting.reference]
    assert refs(client, status="booked") == [booked.reference]
    assert refs(client, status="completed") == [completed.reference]
    html = client.get(reverse("triage_queue")).content.decode()
    assert '<option value="" selected>Open (waiting on the practice)</option>' in html


def test_open_windows_come_first_then_closed_then_no_onset_each_oldest_first(
    client, admin_user, referrer
):
    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    closed_recent = submitted(referrer, pain_onset=today - 40 * day)  # received first
    open_later = submitted(referrer, pain_onset=today - 2 * day)
    closed_old = submitted(referrer, pain_onset=today - 60 * day)
    no_onset = submitted(referrer)
    Referral.objects.filter(pk=no_onset.pk).update(pain_onset=None)
    open_soon = submitted(referrer, pain_onset=today - 20 * day)
    closing_today = submitted(referrer, pain_onset=today - 21 * day)  # still open today
    # Received times: the order they were made in, an hour apart.
    for hours, r in enumerate((closed_recent, open_later, closed_old, no_onset, open_soon)):
        Referral.objects.filter(pk=r.pk).update(
            submitted_at=timezone.now() - datetime.timedelta(hours=10 - hours)
        )
    client.force_login(admin_user)
    expected = [closing_today, open_soon, open_later, closed_recent, closed_old, no_onset]
    assert refs(client) == [r.reference for r in expected]
    html = client.get(reverse("triage_queue")).content.decode()
    assert "Open treatment windows first, the one closing soonest at the top" in html
    # The same order across pages: page 1 of 4 rows, then the rest.
    queue = triage_queue(today=today)
    assert [r.reference for r in queue[0:4]] + [r.reference for r in queue[4:50]] == [
        r.reference for r in expected
    ]


def test_whole_and_partial_references_are_found(client, admin_user, referrer):
    target = submitted(referrer)
    other = submitted(referrer)
    year, number = target.reference.split("-")[1], int(target.reference.split("-")[2])
    client.force_login(admin_user)
    for typed in (
        target.reference,
        target.reference.lower(),
        f"vp-{year}-{number}",
        f"VP {year} {number}",
        f"{number:05d}",  # the number alone, as digits: not only a Medicare number
        str(number),
    ):
        assert refs(client, q=typed) == [target.reference], typed
    assert sorted(refs(client, q=f"VP-{year}")) == sorted([target.reference, other.reference])


def test_digits_find_a_medicare_number_whole_or_partial(client, admin_user, referrer):
    target = submitted(referrer, medicare_number="2950123481")
    submitted(referrer, medicare_number="3950123481")
    client.force_login(admin_user)
    assert refs(client, q="2950123481") == [target.reference]
    assert refs(client, q="29501") == [target.reference]
    assert refs(client, q="2950 1234") == [target.reference]


def test_the_count_is_exact_below_the_cap_and_capped_past_it(
    client, admin_user, referrer, settings
):
    settings.QUEUE_COUNT_CAP = 50
    for _ in range(50):
        submitted(referrer)
    client.force_login(admin_user)
    html = client.get(reverse("triage_queue")).content.decode()
    assert "Showing 1–50 of 50<" in html
    submitted(referrer)
    with CaptureQueriesContext(connection) as context:
        html = client.get(reverse("triage_queue")).content.decode()
    assert "Showing 1–50 of more than 50<" in html
    counts = [q["sql"] for q in context.captured_queries if "COUNT(" in q["sql"]]
    assert counts and all("LIMIT 51" in sql for sql in counts), counts


def test_a_search_counts_to_its_own_lower_cap_and_says_how_to_narrow_it(
    client, admin_user, referrer, settings
):
    settings.QUEUE_SEARCH_COUNT_CAP = 50
    for _ in range(51):
        submitted(referrer, patient_family_name="Quill")
    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as context:
        html = client.get(reverse("triage_queue"), {"q": "quill"}).content.decode()
    assert "Showing 1–50 of more than 50: add to the search" in html
    counts = [q["sql"] for q in context.captured_queries if "COUNT(" in q["sql"]]
    assert counts and all("LIMIT 51" in sql for sql in counts), counts
    # The queue itself counts to QUEUE_COUNT_CAP: exact, and no hint.
    html = client.get(reverse("triage_queue")).content.decode()
    assert "Showing 1–50 of 51<" in html and "add to the search" not in html


def _plan(cursor, queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    cursor.execute(f"EXPLAIN {sql}", params)
    return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index plans are PostgreSQL's")
def test_every_search_path_and_count_is_served_by_an_index(db, referrer):
    today = timezone.localdate()
    r = submitted(referrer, patient_family_name="Quill")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table is cheapest read whole
        # Reference, whole or partial: a prefix LIKE on the reference's pattern-ops index (in
        # every status: on this empty table the open queue's own index costs the same, and the
        # planner's pick between equals is no evidence; at 1M the reference's is chosen).
        for q in (r.reference, "vp-2026-7"):
            plan = _plan(cursor, triage_queue(q=q, status="all", today=today).segments[0])
            assert "referral_reference" in plan and "_like" in plan, plan
        # A partial Medicare number: its prefix index (and the reference's, for the number).
        plan = _plan(cursor, triage_queue(q="29501", today=today).segments[1])
        assert "referral_medicare_prefix_idx" in plan, plan
        # The default queue's three parts, and their capped counts.
        queue = triage_queue(today=today)
        for segment in queue.segments:
            assert "referral_waiting_" in _plan(cursor, segment)
            assert "referral_waiting_" in _plan(cursor, segment.order_by()[:1001])
        # One status: an index (its own, or a smaller one where the table is empty).
        for segment in triage_queue(status="submitted", today=today).segments:
            plan = _plan(cursor, segment)
            assert "Index" in plan and "Seq Scan" not in plan, plan
        # The duplicate check's names (iexact is UPPER(name) = UPPER(?)).
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        # A name search's page ids and capped counts: the queue's own indexes, which hold the
        # names (INCLUDE) so that at 1M both are index-only scans that check the names in the
        # index, not in a thousand rows of the table (an empty table's plan cannot show that:
        # nothing is marked all-visible).
        for segment in triage_queue(q="quill", today=today).segments:
            for query in (segment.values("pk")[:50], segment.order_by().values("pk")[:201]):
                assert "Index" in _plan(cursor, query)
        for name in ("referral_waiting_queue_idx", "referral_waiting_recv_idx"):
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
            assert "INCLUDE (patient_family_name, patient_given_name)" in cursor.fetchone()[0]
        plan = _plan(cursor, possible_duplicates(r).filter(patient_family_name__iexact="quill"))
        assert "referral_name_dob_upper_idx" in plan or "referral_medicare_idx" in plan, plan


def test_the_duplicate_check_finds_the_same_name_whatever_the_case(referrer, other_referrer):
    first = submitted(other_referrer, patient_family_name="QUILL", medicare_number="2950123481")
    second = make_referral(
        referrer, patient_family_name="quill", patient_dob=first.patient_dob,
        medicare_number="3950123481",
    )  # fmt: skip
    assert list(possible_duplicates(second)) == [first]
