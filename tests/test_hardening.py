"""Findings of the outside probe (issue 12), each shown closed: the eligibility API's bounds
and rate limit, malformed bodies, one lockout per account whatever its spelling, sign-up that
tells nobody which addresses have accounts, password reset, and no Server header."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.cache import caches
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from portal.models import User
from tests.factories import PASSWORD, ReferrerFactory, make_provider_number

ROOT = Path(__file__).resolve().parent.parent
FACTS = {"assessed_on": "2026-11-20", "levels": ["L1"], "cause": "osteoporotic"}


@pytest.fixture(autouse=True)
def _own_rate_limit_cache(settings):
    """Counts in a cache of this module's own, empty for each test (the shared one is Redis in
    CI, where clearing it would also empty the Celery broker)."""
    settings.CACHES = {
        **settings.CACHES,
        "limits": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                   "LOCATION": "hardening-tests"},
    }  # fmt: skip
    settings.RATELIMIT_USE_CACHE = "limits"
    caches["limits"].clear()


def post(client, body, **extra):
    text = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(reverse("eligibility_api"), text, content_type="application/json", **extra)


def answer(response):
    """The JSON of a response, streamed (a list's results) or not."""
    if response.streaming:
        return json.loads(b"".join(response.streaming_content))
    return response.json()


# --- 1. the eligibility API is bounded ------------------------------------------------------------


def test_a_batch_over_the_limit_is_refused_before_any_is_assessed(client, referrer, settings):
    client.force_login(referrer)
    response = post(client, [{}] * 101)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "101" in response.json()["error"] and "100" in response.json()["error"]
    settings.ELIGIBILITY_API_MAX_BATCH = 3
    assert post(client, [{}] * 4).status_code == 413
    assert len(answer(post(client, [FACTS] * 3))) == 3


def test_the_largest_batch_allowed_is_answered_in_order_as_a_stream(client, referrer):
    client.force_login(referrer)
    batch = [{**FACTS, "pain_score": n % 11} for n in range(100)]
    response = post(client, batch)
    assert response.status_code == 200
    assert response.streaming  # written result by result, never held whole with its text
    results = answer(response)
    assert len(results) == 100
    assert [r["criteria"][2]["reason"][:14] for r in results[:3]] == ["Pain is rated "] * 3
    assert json.loads(json.dumps(results[7])) == answer(post(client, batch[7]))


def test_a_body_over_the_limit_is_refused_unread(client, referrer, settings):
    settings.ELIGIBILITY_API_MAX_BODY_KB = 1
    client.force_login(referrer)
    response = post(client, [FACTS] * 30)  # about 2 KB
    assert response.status_code == 413
    assert "1 KB" in response.json()["error"]
    assert post(client, FACTS).status_code == 200


def test_600_kb_of_empty_objects_get_a_short_refusal_not_a_523_mb_answer(client, referrer):
    client.force_login(referrer)
    response = post(client, "[" + ",".join(["{}"] * 200_000) + "]")
    assert response.status_code == 413
    assert len(response.content) < 300


def test_past_the_rate_a_user_gets_429_with_retry_after_and_others_do_not(
    client, referrer, other_referrer, settings
):
    settings.ELIGIBILITY_API_RATE = "3/m"
    client.force_login(referrer)
    assert [post(client, FACTS).status_code for _ in range(3)] == [200, 200, 200]
    refused = post(client, FACTS)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "at most 3 a minute" in refused.json()["error"]
    other = Client()
    other.force_login(other_referrer)
    assert post(other, FACTS).status_code == 200  # the limit is per person


def test_a_referrer_waiting_for_approval_may_use_the_checker_within_the_same_limits(
    client, db, settings
):
    waiting = ReferrerFactory(profile__approved_at=None)
    client.force_login(waiting)
    assert post(client, FACTS).status_code == 200
    assert post(client, [{}] * 101).status_code == 413
    settings.ELIGIBILITY_API_RATE = "1/h"
    caches["limits"].clear()
    assert post(client, FACTS).status_code == 200
    assert post(client, FACTS).status_code == 429


def test_bad_fields_are_named_up_to_a_hundred_and_the_rest_counted(client, referrer):
    client.force_login(referrer)
    body = post(client, {f"unknown_{n}": 1 for n in range(300)}).json()
    assert len(body["errors"]) == 100
    assert body["more_errors"] == 200


# --- 4. malformed bodies get 400 JSON, never an HTML 500 ----------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "says"),
    [
        ("nested 100 000 deep", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("a 5 000-digit integer", '{"pain_score": ' + "9" * 5000 + "}", "number in it is too long"),
        ("not UTF-8", b'{"cause": "\xff"}', "UTF-8"),
        ("not JSON", "{nope", "not valid JSON"),
    ],
)
def test_malformed_bodies_get_400_json(client, referrer, settings, name, body, says):
    settings.ELIGIBILITY_API_MAX_BODY_KB = 256
    client.force_login(referrer)
    response = post(client, body)
    assert response.status_code == 400, name
    assert response["Content-Type"] == "application/json"
    assert says in response.json()["errors"]["body"]


def test_a_get_is_answered_405_in_json(client, referrer):
    client.force_login(referrer)
    response = client.get(reverse("eligibility_api"))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "POST" in response.json()["error"]


# --- the command keeps large batches, streamed -------------------------------------------------


def run_command(stdin: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(
        [sys.executable, "manage.py", "eligibility", *(args or ("-",))],
        input=stdin, cwd=ROOT, env={**env, "DEBUG": "1"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_the_command_takes_a_batch_far_past_the_apis_limit():
    result = run_command(json.dumps([FACTS] * 2000))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 2000


def test_the_command_has_its_own_batch_limit_and_refuses_malformed_json_cleanly():
    too_long = run_command(json.dumps([{}] * 3), "-", "--max-batch", "2")
    assert too_long.returncode == 2 and "more than the 2 taken at once" in too_long.stderr
    nested = run_command("[" * 100_000 + "]" * 100_000)
    huge = run_command('{"pain_score": ' + "9" * 5000 + "}")
    for result in (too_long, nested, huge):
        assert result.returncode == 2
        assert result.stdout == ""
        assert "Traceback" not in result.stderr


# --- 3. one lockout per account, whatever case and spacing are typed ------------------------------


def sign_in(client, email, password=PASSWORD, address="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=address
    )


@pytest.fixture
def gp(db):
    return ReferrerFactory(email="gp@clinic.example")


@pytest.mark.parametrize(
    "variant",
    ["GP@CLINIC.EXAMPLE", " gp@clinic.example ", "Gp@Clinic.Example", "\tgp@clinic.example"],
)
def test_after_five_failures_no_spelling_of_the_email_signs_in_from_anywhere(gp, variant):
    for _ in range(5):
        sign_in(Client(), "gp@clinic.example", "wrong", address="10.0.0.1")
    response = sign_in(Client(), variant, address="10.0.0.2")
    assert response.status_code == 429
    assert "_auth_user_id" not in Client().session


def test_failures_under_different_spellings_count_together(gp):
    for n, spelling in enumerate(["gp@clinic.example", "GP@clinic.example", " gp@CLINIC.example",
                                  "Gp@Clinic.Example", "gp@clinic.example "]):  # fmt: skip
        sign_in(Client(), spelling, "wrong", address=f"10.0.1.{n}")
    assert sign_in(Client(), "gp@clinic.example", address="10.0.2.1").status_code == 429


def test_any_spelling_signs_in_when_not_locked(gp):
    client = Client()
    assert sign_in(client, "  GP@Clinic.EXAMPLE ").status_code == 302
    assert client.session["_auth_user_id"] == str(gp.pk)


def test_emails_are_stored_normalised_and_the_database_refuses_otherwise(db):
    user = User.objects.create_user("  Dr.Case@Example.ORG ", "a-long-password-1")
    assert user.email == "dr.case@example.org"
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(email="Dr.Case@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="dr.case@example.org ", password="x")])


@pytest.mark.django_db(transaction=True)
def test_the_migration_normalises_the_emails_already_stored():
    from django.db.migrations.executor import MigrationExecutor

    before = [("portal", "0003_auditevent")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    OldUser = executor.loader.project_state(before).apps.get_model("portal", "User")
    OldUser.objects.create(email=" Mixed.Case@Example.ORG ", password="x")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert User.objects.filter(email="mixed.case@example.org").count() == 1


def test_the_admin_stores_a_new_accounts_email_normalised(client, db):
    manager = User.objects.create_superuser("manager@practice.example", "a-long-password-1")
    client.force_login(manager)
    client.post(
        "/admin/portal/user/add/",
        {"email": " New.Person@Example.ORG ", "password1": "a-long-password-9",
         "password2": "a-long-password-9", "usable_password": "true",
         "referrer_profile-TOTAL_FORMS": "0", "referrer_profile-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert User.objects.filter(email="new.person@example.org").exists()


# --- 5. sign-up tells nobody which addresses have accounts --------------------------------------


def signup_data(email):
    return {
        "first_name": "Riley", "last_name": "Example", "email": email,
        "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase",
        "provider_number": make_provider_number(), "practice_name": "Example Clinic",
        "address": "3 Example Lane, Fitzroy VIC 3065", "phone": "03 9000 0001",
    }  # fmt: skip


def without_tokens(response) -> str:
    """The page as a person reads it: CSRF tokens differ from one visitor to the next."""
    return re.sub(
        r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', "", response.content.decode()
    )


def test_sign_up_for_an_existing_email_answers_as_for_a_new_one_and_emails_the_owner(
    gp, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        new = Client().post(reverse("signup"), signup_data("riley@clinic.example"), follow=True)
        existing = Client().post(reverse("signup"), signup_data(" GP@Clinic.Example"), follow=True)
    assert new.redirect_chain == existing.redirect_chain == [(reverse("signup_done"), 302)]
    assert without_tokens(new) == without_tokens(existing)
    assert "exists" not in existing.content.decode()
    assert User.objects.filter(email="gp@clinic.example").count() == 1
    assert not User.objects.filter(first_name="Riley", email="gp@clinic.example").exists()
    assert [m.to for m in mailoutbox] == [["riley@clinic.example"], ["gp@clinic.example"]]
    owners_email = mailoutbox[1].body
    assert "already has an account" in owners_email and "Nothing was changed" in owners_email
    assert reverse("password_reset") in owners_email


def test_sign_up_stores_the_email_normalised(db, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(reverse("signup"), signup_data("  Riley@Clinic.EXAMPLE "))
    assert User.objects.get(first_name="Riley").email == "riley@clinic.example"
    assert len(mailoutbox) == 1


# --- password reset -------------------------------------------------------------------------------


def reset_link(message) -> str:
    return next(line for line in message.body.splitlines() if "/accounts/password/reset/" in line)


def test_forgot_password_emails_a_link_that_sets_a_new_password(gp, mailoutbox, settings):
    settings.SITE_URL = "http://127.0.0.1:8123"
    client = Client()
    login_page = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in login_page
    response = client.post(reverse("password_reset"), {"email": " GP@clinic.example"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["gp@clinic.example"]
    link = reset_link(mailoutbox[0])
    assert link.startswith("http://127.0.0.1:8123/accounts/password/reset/")
    page = client.get(link.removeprefix(settings.SITE_URL), follow=True)
    form_url = page.redirect_chain[-1][0]
    done = client.post(form_url, {"new_password1": "a-brand-new-passphrase",
                                  "new_password2": "a-brand-new-passphrase"})  # fmt: skip
    assert done.status_code == 302
    gp.refresh_from_db()
    assert gp.check_password("a-brand-new-passphrase")
    assert client.get(form_url).context["validlink"] is False  # the link works once


def test_an_unknown_email_gets_the_same_answer_and_no_email(db, gp, mailoutbox):
    known = Client().post(reverse("password_reset"), {"email": "gp@clinic.example"}, follow=True)
    unknown = Client().post(reverse("password_reset"), {"email": "no@one.example"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    assert without_tokens(known) == without_tokens(unknown)
    assert len(mailoutbox) == 1


def test_a_reset_link_expires(gp, mailoutbox, monkeypatch, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    past = datetime.now() - timedelta(hours=2)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: past)
    Client().post(reverse("password_reset"), {"email": "gp@clinic.example"})
    monkeypatch.undo()
    client = Client()
    page = client.get(reset_link(mailoutbox[0]).removeprefix(settings.SITE_URL), follow=True)
    assert page.context["validlink"] is False
    assert "no longer works" in page.content.decode()


def test_a_burst_of_reset_requests_sends_no_more_emails(gp, mailoutbox, settings):
    settings.PASSWORD_RESET_RATE = "2/h"
    for _ in range(5):
        Client().post(reverse("password_reset"), {"email": "gp@clinic.example"})
    assert len(mailoutbox) == 2


def test_a_reset_password_does_not_lift_a_lockout(gp, mailoutbox, settings):
    for _ in range(5):
        sign_in(Client(), "gp@clinic.example", "wrong", address="10.0.3.1")
    Client().post(reverse("password_reset"), {"email": "gp@clinic.example"})
    client = Client()
    page = client.get(reset_link(mailoutbox[0]).removeprefix(settings.SITE_URL), follow=True)
    new_password = {"new_password1": "a-brand-new-passphrase",
                    "new_password2": "a-brand-new-passphrase"}  # fmt: skip
    client.post(page.redirect_chain[-1][0], new_password)
    locked = sign_in(Client(), "gp@clinic.example", "a-brand-new-passphrase", address="10.0.3.2")
    assert locked.status_code == 429


# --- 7. no Server header ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_with_the_portals_config_names_no_server(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DEBUG="1", VAR_DIR=str(tmp_path), GUNICORN_BIND=f"127.0.0.1:{port}",
               WEB_CONCURRENCY="1")  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn_conf.py", "portal.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert response.status == 200
        assert response.getheader("Server") is None
        assert response.getheader("Date")  # the other default headers are still sent
    finally:
        server.terminate()
        server.wait(timeout=20)
