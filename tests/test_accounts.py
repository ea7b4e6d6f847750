"""Signing in by email, and each role landing on its own page."""

import re

import pytest
from django.urls import reverse

from portal.models import User
from tests.factories import UserFactory

LANDINGS = [
    ("referrer", "/referrals/", "My referrals"),
    ("admin_user", "/triage/", "Triage queue"),
    ("radiologist", "/reviews/", "My reviews"),
]


@pytest.mark.parametrize(("persona", "landing", "heading"), LANDINGS)
def test_each_role_signs_in_by_email_and_lands_on_its_page(
    client, request, password, persona, landing, heading
):
    user = request.getfixturevalue(persona)
    response = client.post(
        reverse("login"), {"username": user.email.upper(), "password": password}, follow=True
    )
    assert response.redirect_chain[-1][0] == landing
    assert re.search(rf"<h1[^>]*>{heading}</h1>", response.content.decode())


@pytest.mark.parametrize(("persona", "landing", "heading"), LANDINGS)
def test_navigation_shows_only_the_roles_own_pages(client, request, persona, landing, heading):
    client.force_login(request.getfixturevalue(persona))
    html = client.get(landing).content.decode()
    for _persona, other_landing, other_heading in LANDINGS:
        assert (f'href="{other_landing}"' in html) == (other_landing == landing), other_heading


def test_a_wrong_password_is_refused_with_a_clear_message(client, referrer):
    response = client.post(reverse("login"), {"username": referrer.email, "password": "nope"})
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", ["/", "/referrals/", "/triage/", "/reviews/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("persona", "url"),
    [
        ("referrer", "/triage/"),
        ("referrer", "/reviews/"),
        ("radiologist", "/triage/"),
        ("admin_user", "/referrals/"),
    ],
)
def test_a_role_cannot_open_another_roles_page(client, request, persona, url):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url).status_code == 403


def test_a_user_without_a_role_is_told_so(client, db):
    client.force_login(UserFactory())
    response = client.get("/")
    assert response.status_code == 403
    assert "no role yet" in response.content.decode()


def test_signing_out_needs_a_post_and_ends_the_session(client, referrer):
    client.force_login(referrer)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_django_admin_is_for_superusers(client, db, admin_user):
    manager = User.objects.create_superuser("manager@practice.example", "a-long-password-1")
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 302  # not staff: sent to the admin's login
    client.force_login(manager)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/portal/user/").status_code == 200


def test_emails_are_unique_whatever_their_case(db):
    User.objects.create_user("Dr.Case@Example.org", "a-long-password-1")
    assert User.objects.get_by_natural_key("dr.case@example.org").email == "dr.case@example.org"


def test_seed_demo_is_idempotent(db):
    from io import StringIO

    from django.core.management import call_command

    # pytest-django runs with DEBUG off, where the command needs --force.
    call_command("seed_demo", force=True, stdout=StringIO())
    call_command("seed_demo", force=True, stdout=StringIO())
    assert User.objects.filter(email__endswith=".example").count() == 4
    gp = User.objects.get(email="gp@clinic.example")
    assert gp.check_password("demo-referrer-2026")
    assert gp.referrer_profile.is_approved


def test_healthz_answers_ok(client, db):
    response = client.get("/healthz")
    assert response.content == b"ok"
