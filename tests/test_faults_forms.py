"""The form pages when PostgreSQL drops the connection (issue 14, item 4): the save is tried once
more on a new connection; if that fails too, the page comes back (503) with everything typed
and a note to try again, and autosave answers 503 with a note htmx shows.

The fault is real: a trigger on the referrals table makes the server terminate the very
connection that updates a referral (pg_terminate_backend of its own backend), the first N
times, counted by a sequence (which a rollback does not undo)."""

import os

import pytest
from django.db import connection
from django.urls import reverse

from referrals.models import Referral
from tests.factories import complete_patient, make_referral

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs PostgreSQL (DATABASE_URL): the server terminates the connection",
    ),
]

# What the doctor typed (a complete, valid patient section); TYPED are the answers looked for.
TYPED = {
    "patient_given_name": "Quenby",
    "patient_family_name": "Fairweather-Test",
    "patient_phone": "0491 570 110",
    "address_line": "7 Invented Lane",
}
FIELDS = {
    **{k: v for k, v in complete_patient().items() if k != "patient_consent"},
    "patient_dob": "1941-03-09",
    "patient_consent": "on",
    **TYPED,
}


def admin_sql(*statements):
    import psycopg

    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                         dbname=s["NAME"], autocommit=True) as other:  # fmt: skip
        for statement in statements:
            other.execute(statement)


@pytest.fixture
def terminate_updates():
    """terminate_updates(n): the next n UPDATEs of a referral end their own connection."""

    def arm(times: int):
        admin_sql(
            "DROP SEQUENCE IF EXISTS faults_kills",
            "CREATE SEQUENCE faults_kills",
            f"""CREATE OR REPLACE FUNCTION faults_kill() RETURNS trigger AS $$
                BEGIN
                  IF nextval('faults_kills') <= {int(times)} THEN
                    PERFORM pg_terminate_backend(pg_backend_pid());
                  END IF;
                  RETURN NEW;
                END $$ LANGUAGE plpgsql""",
            "DROP TRIGGER IF EXISTS faults_kill ON referrals_referral",
            "CREATE TRIGGER faults_kill BEFORE UPDATE ON referrals_referral "
            "FOR EACH ROW EXECUTE FUNCTION faults_kill()",
        )

    yield arm
    connection.close()
    admin_sql(
        "DROP TRIGGER IF EXISTS faults_kill ON referrals_referral",
        "DROP FUNCTION IF EXISTS faults_kill()",
        "DROP SEQUENCE IF EXISTS faults_kills",
    )


def kills_used() -> int:
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM faults_kills")
        value, called = cursor.fetchone()
    return value if called else 0


@pytest.fixture
def draft(client, referrer):
    client.force_login(referrer)
    return make_referral(referrer)


def section_url(referral):
    return reverse("referral_section", args=[referral.uuid, "patient"])


def test_a_save_that_loses_its_connection_once_is_retried_and_saved(
    client, draft, terminate_updates
):
    terminate_updates(1)
    response = client.post(section_url(draft), {**FIELDS, "next": "patient"})
    assert response.status_code == 302
    assert kills_used() >= 2  # the first was terminated, the retry went through
    draft.refresh_from_db()
    assert draft.patient_given_name == "Quenby" and draft.address_line == "7 Invented Lane"


def test_a_save_the_database_keeps_refusing_returns_the_form_with_what_was_typed(
    client, draft, terminate_updates
):
    terminate_updates(2)
    response = client.post(section_url(draft), {**FIELDS, "next": "patient"})
    assert response.status_code == 503
    page = response.content.decode()
    assert "The database did not answer; your answers are still here, try Save again." in page
    for value in TYPED.values():
        assert f'value="{value}"' in page, value  # every answer typed, back in its field
    assert "Traceback" not in page
    connection.close()
    assert Referral.objects.get(pk=draft.pk).patient_given_name != "Quenby"  # not saved
    # Save again: the database answers now.
    assert client.post(section_url(draft), {**FIELDS, "next": "patient"}).status_code == 302
    assert Referral.objects.get(pk=draft.pk).patient_given_name == "Quenby"


def test_autosave_without_the_database_answers_503_with_a_note(client, draft, terminate_updates):
    url = reverse("referral_autosave", args=[draft.uuid, "patient"])
    terminate_updates(2)
    response = client.post(url, FIELDS, headers={"HX-Request": "true"})
    assert response.status_code == 503
    note = response.content.decode()
    assert "your answers are still here" in note and "Traceback" not in note
    response = client.post(url, FIELDS, headers={"HX-Request": "true"})  # the next change
    assert response.status_code == 200 and "Draft saved" in response.content.decode()
    assert Referral.objects.get(pk=draft.pk).patient_given_name == "Quenby"


def test_htmx_is_told_to_show_a_503(client, draft):
    page = client.get(section_url(draft)).content.decode()
    assert '{"code": "503", "swap": true, "error": true}' in page
