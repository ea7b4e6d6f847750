"""Sessions are written when they change, or to renew their expiry, not on every request; the
idle limit (30 minutes after the last request) and the absolute limit still hold to the second."""

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.middleware import _SEEN_SALT, SEEN_COOKIE, SIGNED_IN_AT, WRITTEN_AT, _session_tag
from tests.factories import PASSWORD


def sign_in(client, email):
    response = client.post(reverse("login"), {"username": email, "password": PASSWORD})
    assert response.status_code == 302
    return response


def session_writes(client, path) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(path)
    writes = [
        q["sql"]
        for q in context.captured_queries
        if "django_session" in q["sql"]
        and q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))
    ]
    return len(writes), response


def test_a_request_that_changes_nothing_writes_nothing_to_the_session_table(client, referrer):
    sign_in(client, referrer.email)
    client.get(reverse("referral_list"))  # the first page after sign-in records its time
    count, response = session_writes(client, reverse("referral_list"))
    assert response.status_code == 200
    assert count == 0
    # ...yet the cookie's Max-Age is renewed, and the time of the request is signed into it
    assert response.cookies["portal_session"]["max-age"] == 30 * 60
    assert response.cookies[SEEN_COOKIE].value


def test_a_session_is_written_once_its_last_write_is_a_minute_old(client, referrer):
    sign_in(client, referrer.email)
    client.get(reverse("referral_list"))
    session = client.session
    session[WRITTEN_AT] = time.time() - 61
    session.save()
    count, _response = session_writes(client, reverse("referral_list"))
    assert count == 1
    assert time.time() - client.session[WRITTEN_AT] < 5
    count, _response = session_writes(client, reverse("referral_list"))
    assert count == 0


def _seen(client, seconds_ago: float) -> None:
    """As if the last response had been `seconds_ago`, and the row written a minute before it
    (the most it can be, SESSION_RENEW_SECONDS)."""
    from django.core import signing

    session = client.session
    session[WRITTEN_AT] = time.time() - seconds_ago - 60
    session.save()
    stamp = f"{_session_tag(session.session_key)}:{time.time() - seconds_ago:.3f}"
    client.cookies[SEEN_COOKIE] = signing.Signer(salt=_SEEN_SALT).sign(stamp)


def test_the_idle_limit_counts_from_the_last_request_not_the_last_write(client, referrer):
    sign_in(client, referrer.email)
    client.get(reverse("referral_list"))
    _seen(client, 30 * 60 - 5)  # 29 min 55 s idle, the row written 30 min 55 s ago
    assert client.get(reverse("referral_list")).status_code == 200
    _seen(client, 30 * 60 + 1)
    response = client.get(reverse("referral_list"))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_without_the_seen_cookie_the_last_write_decides(client, referrer):
    sign_in(client, referrer.email)
    client.get(reverse("referral_list"))
    session = client.session
    session[WRITTEN_AT] = time.time() - 30 * 60 - 1
    session.save()
    del client.cookies[SEEN_COOKIE]
    response = client.get(reverse("referral_list"))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_a_forged_or_another_sessions_seen_cookie_counts_for_nothing(client, referrer):
    from django.core import signing

    sign_in(client, referrer.email)
    client.get(reverse("referral_list"))
    session = client.session
    session[WRITTEN_AT] = time.time() - 30 * 60 - 1
    session.save()
    fresh = f"{time.time():.3f}"
    for value in (
        f"{_session_tag(session.session_key)}:{fresh}:forged",
        signing.Signer(salt=_SEEN_SALT).sign(f"{_session_tag('another-key')}:{fresh}"),
    ):
        client.cookies[SEEN_COOKIE] = value
        response = client.get(reverse("referral_list"))
        assert response.status_code == 302, value
        sign_in(client, referrer.email)
        client.get(reverse("referral_list"))
        session = client.session
        session[WRITTEN_AT] = time.time() - 30 * 60 - 1
        session.save()


def test_the_absolute_limit_still_holds_without_writes(client, referrer):
    sign_in(client, referrer.email)
    client.get(reverse("referral_list"))
    session = client.session
    session[SIGNED_IN_AT] = time.time() - 12 * 3600 - 1
    session.save()
    response = client.get(reverse("referral_list"))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
