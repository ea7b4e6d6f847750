"""portal.backends.RolesModelBackend: the session's user comes with their roles in one query,
read afresh each request, so a role taken away counts from the next request."""

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.backends import RolesModelBackend
from portal.roles import ADMIN, RADIOLOGIST, REFERRER, user_roles


def test_the_user_comes_with_their_roles_in_one_query(admin_user, radiologist, referrer):
    admin_user.groups.add(Group.objects.get(name=RADIOLOGIST))
    backend = RolesModelBackend()
    for user, roles in ((admin_user, {ADMIN, RADIOLOGIST}), (radiologist, {RADIOLOGIST}),
                        (referrer, {REFERRER})):  # fmt: skip
        with CaptureQueriesContext(connection) as context:
            loaded = backend.get_user(user.pk)
            assert user_roles(loaded) == roles
        assert len(context) == 1
        assert loaded == user and loaded.email == user.email


def test_a_user_without_roles_an_inactive_user_and_a_bad_id(admin_user, referrer):
    backend = RolesModelBackend()
    referrer.groups.clear()
    assert user_roles(backend.get_user(referrer.pk)) == frozenset()
    admin_user.is_active = False
    admin_user.save()
    assert backend.get_user(admin_user.pk) is None
    assert backend.get_user(10**9) is None
    assert backend.get_user("not-an-id") is None


def test_a_role_taken_away_counts_from_the_next_request(client, admin_user):
    client.force_login(admin_user)
    queue = reverse("triage_queue")
    assert client.get(queue).status_code == 200
    admin_user.groups.remove(Group.objects.get(name=ADMIN))
    assert client.get(queue).status_code == 403
    admin_user.groups.add(Group.objects.get(name=ADMIN))
    assert client.get(queue).status_code == 200


def test_a_session_signed_in_by_this_backend_names_it(client, admin_user, password):
    response = client.post(reverse("login"), {"username": admin_user.email, "password": password})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == "portal.backends.RolesModelBackend"
    assert client.session[SESSION_KEY] == str(admin_user.pk)
