"""Sign-in protections: lockout, sessions, two-factor, and the security headers."""

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.middleware import SIGNED_IN_AT
from portal.models import AuditEvent, User
from tests.factories import PASSWORD


def sign_in(client, email, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": email, "password": password}, **extra)


# --- lockout ------------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(client, referrer):
    for _ in range(4):
        assert sign_in(client, referrer.email, "wrong").status_code == 200
    assert sign_in(client, referrer.email, "wrong").status_code == 429  # the fifth locks
    response = sign_in(client, referrer.email)
    assert response.status_code == 429
    assert "Sign-in is paused" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(
        action="sign_in_failed", actor_email=referrer.email, detail__contains="locked out"
    ).exists()


def test_five_failures_from_one_address_lock_that_address(client, referrer, other_referrer):
    for n in range(5):
        sign_in(client, f"nobody{n}@example.org", "wrong", REMOTE_ADDR="10.9.8.7")
    response = sign_in(client, other_referrer.email, REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 429
    elsewhere = sign_in(Client(), other_referrer.email, REMOTE_ADDR="10.9.8.8")
    assert elsewhere.status_code == 302  # another address is not locked


def test_the_lock_lifts_after_the_cooloff(client, referrer):
    from axes.models import AccessAttempt

    for _ in range(5):
        sign_in(client, referrer.email, "wrong")
    assert sign_in(client, referrer.email).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, referrer.email).status_code == 302


# --- sessions -----------------------------------------------------------------------------------


def test_the_session_key_changes_at_sign_in(client, referrer):
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key
    sign_in(client, referrer.email)
    assert client.session.session_key != before


def test_the_session_idles_out_after_30_minutes(client, referrer, settings):
    sign_in(client, referrer.email)
    client.get(reverse("referral_list"))
    expiry = client.session.get_expiry_age()
    assert settings.SESSION_COOKIE_AGE == 30 * 60 and 29 * 60 < expiry <= 30 * 60
    # each request renews it, without writing the session row each time: tests/test_sessions.py
    assert client.cookies["portal_session"]["max-age"] == 30 * 60


def test_the_session_ends_12_hours_after_sign_in_however_active(client, referrer):
    sign_in(client, referrer.email)
    assert client.get(reverse("referral_list")).status_code == 200
    session = client.session
    session[SIGNED_IN_AT] = time.time() - 12 * 3600 - 1
    session.save()
    response = client.get(reverse("referral_list"))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_changing_the_password_ends_the_other_sessions_only(referrer):
    here, elsewhere = Client(), Client()
    sign_in(here, referrer.email)
    sign_in(elsewhere, referrer.email)
    response = here.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-passphrase",
            "new_password2": "a-brand-new-passphrase",
        },
    )
    assert response.status_code == 302
    assert here.get(reverse("referral_list")).status_code == 200
    assert elsewhere.get(reverse("referral_list")).status_code == 302


def test_deactivating_a_user_ends_their_sessions(client, referrer):
    sign_in(client, referrer.email)
    User.objects.filter(pk=referrer.pk).update(is_active=False)
    response = client.get(reverse("referral_list"))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


# --- two-factor ---------------------------------------------------------------------------------


def code_for(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


@pytest.mark.two_factor
def test_an_admin_must_enrol_then_enters_a_code_at_each_sign_in(client, admin_user):
    sign_in(client, admin_user.email)
    response = client.get(reverse("triage_queue"))
    assert response.status_code == 302 and response.url.startswith(reverse("otp_setup"))
    page = client.get(response.url).content.decode()
    assert "data:image/svg+xml;base64," in page  # the QR code, as an image the CSP allows
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    wrong = client.post(reverse("otp_setup"), {"token": "000000"})
    assert "does not match" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows retries after a wrong code; the test need not wait
    done = client.post(reverse("otp_setup"), {"token": code_for(device)})
    shown = done.content.decode()
    assert 'id="backup-codes"' in shown
    stored = StaticDevice.objects.get(user=admin_user).token_set.values_list("token", flat=True)
    assert len(stored) == 10 and all(code in shown for code in stored)
    assert client.get(reverse("triage_queue")).status_code == 200

    client.post(reverse("logout"))
    sign_in(client, admin_user.email)
    response = client.get(reverse("triage_queue"))
    assert response.url.startswith(reverse("otp_verify"))
    bad = client.post(reverse("otp_verify"), {"token": "123456"})
    assert "not right" in bad.content.decode()
    assert AuditEvent.objects.filter(detail="wrong two-factor code").count() == 1
    device.refresh_from_db()
    device.last_t = -1  # let the same 30-second window's code be used again in this test
    device.save()
    device.throttle_reset()
    ok = client.post(reverse("otp_verify"), {"token": code_for(device), "next": "/triage/"})
    assert ok.status_code == 302 and ok.url == "/triage/"
    assert client.get(reverse("triage_queue")).status_code == 200


@pytest.mark.two_factor
def test_a_backup_code_works_once(client, radiologist):
    device = TOTPDevice.objects.create(user=radiologist, name="app", confirmed=True)
    static = StaticDevice.objects.create(user=radiologist, name="Backup codes")
    static.token_set.create(token="backup123")
    assert device
    sign_in(client, radiologist.email)
    assert client.post(reverse("otp_verify"), {"token": "backup123"}).status_code == 302
    client.post(reverse("logout"))
    sign_in(client, radiologist.email)
    again = client.post(reverse("otp_verify"), {"token": "backup123"})
    assert again.status_code == 200 and "has been used" in again.content.decode()


@pytest.mark.two_factor
def test_two_factor_is_offered_not_required_for_referrers(client, referrer):
    sign_in(client, referrer.email)
    assert client.get(reverse("referral_list")).status_code == 200
    assert (
        'href="/accounts/two-factor/setup/"'
        in client.get(reverse("referral_list")).content.decode()
    )


@pytest.mark.two_factor
def test_the_api_answers_401_until_the_code_is_entered(client, admin_user):
    sign_in(client, admin_user.email)
    response = client.post(reverse("eligibility_api"), "{}", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.two_factor
def test_a_lost_device_is_reset_by_a_superuser_and_audited(client, radiologist):
    manager = User.objects.create_superuser("manager@practice.example", PASSWORD)
    TOTPDevice.objects.create(user=manager, name="app", confirmed=True)
    TOTPDevice.objects.create(user=radiologist, name="app", confirmed=True)
    client.force_login(manager)
    session = client.session
    # The manager's own session is verified with their device.
    session["otp_device_id"] = TOTPDevice.objects.get(user=manager).persistent_id
    session.save()
    client.post(
        "/admin/portal/user/",
        {"action": "reset_two_factor", "_selected_action": [radiologist.pk]},
    )
    assert not TOTPDevice.objects.filter(user=radiologist).exists()
    event = AuditEvent.objects.get(detail="two-factor reset (lost device)")
    assert (event.actor, event.object_repr) == (manager, radiologist.email)


# --- headers ------------------------------------------------------------------------------------


def test_pages_carry_a_strict_content_security_policy_and_no_framing(client, referrer):
    client.force_login(referrer)
    response = client.get(reverse("referral_list"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "object-src 'none'" in policy and "frame-ancestors 'self'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_no_template_holds_an_inline_script_or_style(settings):
    from pathlib import Path

    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        if path.parts[-2] in ("packets", "letters", "emails"):  # to PDF or text, never served
            continue
        html = path.read_text()
        assert "<script>" not in html and "<style" not in html and " style=" not in html, path
        assert " on" + "click=" not in html, path
