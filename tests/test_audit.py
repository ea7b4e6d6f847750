"""The audit trail: sign-in events, append-only rows, the admin, the per-referral page."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse

from portal.audit import audit_record
from portal.models import AuditEvent, User
from portal.urls import urlpatterns as portal_urlpatterns
from referrals.views.referral import referral_audit
from tests.factories import PASSWORD, make_referral

# The audit page's route until referrals/urls.py carries it; the view tests use this module as
# their urlconf (@pytest.mark.urls), with the project's routes for the links the page renders.
urlpatterns = [
    path("referrals/<uuid:referral_uuid>/audit/", referral_audit, name="referral_audit"),
    *portal_urlpatterns,
]

Action = AuditEvent.Action
WRONG_PASSWORD = "not-the-right-password-42"


def sign_in_events():
    return AuditEvent.objects.filter(action=Action.SIGN_IN)


# Signing in and out


def test_signing_in_writes_one_sign_in_event_with_the_address(client, referrer):
    response = client.post(
        reverse("login"),
        {"username": referrer.email, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="Firefox/140.0",
    )

    assert response.status_code == 302
    event = AuditEvent.objects.get()
    assert event.action == Action.SIGN_IN
    assert event.actor == referrer
    assert event.actor_email == referrer.email
    assert event.ip_address == "203.0.113.7"
    assert event.user_agent == "Firefox/140.0"
    assert event.referral is None


def test_a_wrong_password_writes_a_failed_sign_in_with_the_typed_email_and_no_password(
    client, referrer
):
    # Kept as the lockout counts it: trimmed and lower-cased (portal.models.normalise_email).
    typed = "alex.gp@clinic.example"
    form = {"username": typed, "password": WRONG_PASSWORD}

    response = client.post(reverse("login"), form, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 200  # the form again, with its error
    event = AuditEvent.objects.get()
    assert event.action == Action.SIGN_IN_FAILED
    assert event.actor is None
    assert event.actor_email == typed
    assert event.ip_address == "198.51.100.4"
    stored = [str(getattr(event, f.attname)) for f in AuditEvent._meta.concrete_fields]
    assert not any(WRONG_PASSWORD in value for value in stored)
    assert not any(PASSWORD in value for value in stored)


def test_signing_out_writes_a_sign_out_event(client, referrer):
    client.force_login(referrer)

    client.post(reverse("logout"), REMOTE_ADDR="203.0.113.8")

    event = AuditEvent.objects.get(action=Action.SIGN_OUT)
    assert event.actor == referrer
    assert event.actor_email == referrer.email
    assert event.ip_address == "203.0.113.8"


def test_signing_out_when_not_signed_in_writes_nothing(client, db):
    client.post(reverse("logout"))

    assert not AuditEvent.objects.exists()


# audit_record


def forwarded_request(user=None):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.2"
    )
    request.user = user or AnonymousUser()
    return request


def test_audit_record_ignores_x_forwarded_for_by_default(db):
    event = audit_record(request=forwarded_request(), action=Action.SIGN_IN_FAILED)

    assert event.ip_address == "10.0.0.5"


def test_audit_record_takes_the_first_forwarded_address_when_the_setting_is_on(settings, db):
    settings.AUDIT_TRUST_X_FORWARDED_FOR = True

    event = audit_record(request=forwarded_request(), action=Action.SIGN_IN_FAILED)

    assert event.ip_address == "203.0.113.9"


def test_audit_record_falls_back_to_remote_addr_when_the_forwarded_value_is_not_an_address(
    settings, db
):
    settings.AUDIT_TRUST_X_FORWARDED_FOR = True
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="unknown")
    request.user = AnonymousUser()

    event = audit_record(request=request, action=Action.SIGN_IN_FAILED)

    assert event.ip_address == "10.0.0.5"


def test_audit_record_takes_the_actor_from_the_request_and_cuts_the_user_agent(
    admin_user, referrer
):
    referral = make_referral(referrer, status="submitted")
    request = forwarded_request(admin_user)
    request.META["HTTP_USER_AGENT"] = "x" * 500

    event = audit_record(
        request=request,
        action=Action.PACKET_DOWNLOADED,
        referral=referral,
        object_repr="packet v2",
    )

    assert event.actor == admin_user
    assert event.actor_email == admin_user.email
    assert event.referral == referral
    assert event.object_repr == "packet v2"
    assert len(event.user_agent) == 300


# Append-only


@pytest.fixture
def event(referrer):
    return audit_record(action=Action.SIGN_IN, actor=referrer, detail="as it happened")


def assert_unchanged(event):
    stored = AuditEvent.objects.get(pk=event.pk)  # still there
    assert stored.detail == "as it happened"
    assert stored.action == Action.SIGN_IN


def test_saving_a_changed_event_raises_and_changes_nothing(event):
    event.detail = "rewritten"

    with pytest.raises(PermissionError, match="append-only"):
        event.save()
    with pytest.raises(PermissionError):
        event.save(update_fields=["detail"])

    assert_unchanged(event)


def test_an_event_built_with_an_existing_id_cannot_overwrite_it(event):
    forged = AuditEvent(pk=event.pk, action=Action.SIGN_OUT, detail="rewritten")

    with pytest.raises(IntegrityError), transaction.atomic():
        forged.save()

    assert_unchanged(event)


def test_deleting_an_event_raises_and_changes_nothing(event):
    with pytest.raises(PermissionError, match="append-only"):
        event.delete()

    assert_unchanged(event)


def test_queryset_update_and_delete_raise_and_change_nothing(event):
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(detail="rewritten")
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.all().delete()
    event.detail = "rewritten"
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.bulk_update([event], ["detail"])

    assert_unchanged(event)


# The Django admin


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(email="root@practice.example", password=PASSWORD)


def test_the_admin_lists_events_without_add_or_delete(client, superuser, event):
    client.force_login(superuser)

    response = client.get(reverse("admin:portal_auditevent_changelist"))

    assert response.status_code == 200
    assert event.actor_email.encode() in response.content
    assert reverse("admin:portal_auditevent_add").encode() not in response.content
    assert b"delete_selected" not in response.content


def test_the_admin_shows_an_event_read_only_and_refuses_a_change(client, superuser, event):
    client.force_login(superuser)
    url = reverse("admin:portal_auditevent_change", args=[event.pk])

    assert client.get(url).status_code == 200
    response = client.post(url, {"action": Action.SIGN_OUT, "detail": "rewritten"})

    assert response.status_code == 403
    assert_unchanged(event)


def test_the_admin_refuses_the_delete_page(client, superuser, event):
    client.force_login(superuser)
    url = reverse("admin:portal_auditevent_delete", args=[event.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert_unchanged(event)


def test_the_admin_add_page_is_refused(client, superuser):
    client.force_login(superuser)

    assert client.get(reverse("admin:portal_auditevent_add")).status_code == 403


# The per-referral audit page


def audit_url(referral):
    return reverse("referral_audit", args=[referral.uuid])


@pytest.mark.urls("tests.test_audit")
def test_admin_sees_the_events_of_that_referral_only(client, admin_user, referrer):
    referral = make_referral(referrer, status="submitted")
    other = make_referral(referrer, status="submitted")
    audit_record(action=Action.REFERRAL_VIEWED, actor=admin_user, referral=referral)
    audit_record(
        action=Action.REFERRAL_TRANSITION,
        actor=admin_user,
        referral=referral,
        detail="submitted → accepted",
    )
    audit_record(
        action=Action.DOCUMENT_DOWNLOADED,
        actor=admin_user,
        referral=other,
        object_repr="the-other-referral.pdf",
    )
    client.force_login(admin_user)

    response = client.get(audit_url(referral))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Audit trail: {referral.reference}" in page
    # Plain sentences with the statuses' words, never their codes.
    assert "Accepted the referral and assigned an interventional radiologist" in page
    assert "Submitted → Awaiting IR review" in page
    assert "submitted → accepted" not in page
    assert "Viewed the referral" in page
    assert "the-other-referral.pdf" not in page
    events = [row["event"] for row in response.context["rows"]]
    # Only this referral's events (its services wrote some of their own), newest first.
    assert {e.referral_id for e in events} == {referral.pk}
    assert [e.action for e in events[:2]] == [
        Action.REFERRAL_TRANSITION,
        Action.REFERRAL_VIEWED,
    ]


@pytest.mark.urls("tests.test_audit")
def test_referrer_gets_403_for_the_audit_page_of_their_own_referral(client, referrer):
    referral = make_referral(referrer, status="submitted")
    client.force_login(referrer)

    assert client.get(audit_url(referral)).status_code == 403


@pytest.mark.urls("tests.test_audit")
def test_other_referrer_gets_403(client, referrer, other_referrer):
    referral = make_referral(referrer, status="submitted")
    client.force_login(other_referrer)

    assert client.get(audit_url(referral)).status_code == 403


@pytest.mark.urls("tests.test_audit")
def test_radiologist_gets_403(client, referrer, radiologist):
    referral = make_referral(referrer, status="submitted")
    client.force_login(radiologist)

    assert client.get(audit_url(referral)).status_code == 403


@pytest.mark.urls("tests.test_audit")
def test_admin_gets_404_for_a_draft(client, referrer, admin_user):
    referral = make_referral(referrer)
    client.force_login(admin_user)

    assert client.get(audit_url(referral)).status_code == 404


@pytest.mark.urls("tests.test_audit")
def test_anonymous_is_sent_to_sign_in(client, referrer):
    referral = make_referral(referrer, status="submitted")
    url = audit_url(referral)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.urls("tests.test_audit")
def test_the_audit_page_takes_the_same_queries_for_3_and_30_events(client, admin_user, referrer):
    referral = make_referral(referrer, status="submitted")
    client.force_login(admin_user)

    def add_events(n):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                action=Action.REFERRAL_VIEWED,
                actor=admin_user,
                actor_email=admin_user.email,
                referral=referral,
            )
            for _ in range(n)
        )

    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(audit_url(referral))
        assert response.status_code == 200
        return len(queries)

    add_events(3)
    client.get(audit_url(referral))  # the session's first request also checks for 2FA
    with_3 = page_queries()
    add_events(27)
    with_30 = page_queries()

    # session, the user with their roles (portal.backends), the referral (with referrer, IR and
    # site), the people in its trail (the person filter), the count for the paginator, one page
    # of events with their actors (the practice's details are kept from the first page); the
    # session, unchanged, is not written (portal.middleware.SessionMiddleware).
    assert with_3 == with_30 == 6


def test_each_view_and_download_writes_exactly_one_event(
    client, referrer, admin_user, private_media
):
    from django.urls import reverse

    from referrals.packets import queue as packet_queue
    from tests.test_packets import DOCUMENTS, referral_with_documents

    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    packet = packet_queue.packet_render(packet_id=referral.packets.get().pk)
    attachment = referral.attachments.get()
    client.force_login(admin_user)

    def count(action):
        return AuditEvent.objects.filter(action=action, referral=referral, actor=admin_user).count()

    client.get(reverse("referral_detail", args=[referral.uuid]))
    assert count(Action.REFERRAL_VIEWED) == 1
    client.get(reverse("attachment_download", args=[referral.uuid, attachment.uuid]))
    assert count(Action.DOCUMENT_DOWNLOADED) == 1
    event = AuditEvent.objects.get(action=Action.DOCUMENT_DOWNLOADED, referral=referral)
    assert event.object_repr == attachment.original_name and event.ip_address == "127.0.0.1"
    client.get(reverse("packet_download", args=[referral.uuid, packet.uuid]))
    client.get(reverse("packet_inline", args=[referral.uuid, packet.uuid]))
    assert count(Action.PACKET_DOWNLOADED) == 2
