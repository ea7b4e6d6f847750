"""Email notifications: who is told of each event, what the email may say, and how it is sent."""

import datetime
import email
import random
import socket
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from celery.exceptions import Retry
from django.contrib.auth.models import Group
from django.db import transaction
from kombu.exceptions import OperationalError

from portal import roles
from referrals.models import InfoRequest, Message, Notification, Referral
from referrals.notifications import (
    EVENTS,
    notification_message,
    notification_recipients,
    notify,
)
from referrals.tasks import send_notification
from tests.factories import UserFactory, make_ihi, make_medicare_number, make_referral


@pytest.fixture
def second_admin(db):
    """Robin, another triage admin."""
    return UserFactory(email="robin.triage@practice.example", role=roles.ADMIN)


@pytest.fixture
def former_admin(db):
    """An admin who has left: the account is kept but deactivated."""
    return UserFactory(email="former.triage@practice.example", role=roles.ADMIN, is_active=False)


@pytest.fixture
def referral(referrer):
    return make_referral(referrer, status="submitted")


def assign(referral, radiologist):
    Referral.objects.filter(pk=referral.pk).update(assigned_radiologist=radiologist)
    referral.refresh_from_db()
    return referral


def deliver(referral, event, actor, **extra):
    """Send the event's emails as the worker would, one task run per recipient."""
    recipients = notification_recipients(referral=referral, event=event, actor=actor, **extra)
    for address in recipients:
        row = Notification.objects.create(referral=referral, event=event, recipient=address)
        send_notification.run(row.pk)
    return recipients


def booked_row(referral, referrer) -> int:
    return Notification.objects.create(
        referral=referral, event="booked", recipient=referrer.email
    ).pk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- who is told --------------------------------------------------------------------------------


def test_a_submission_sends_the_referrer_a_receipt_and_every_active_admin_a_new_referral(
    referral, referrer, admin_user, second_admin, former_admin, mailoutbox
):
    recipients = deliver(referral, "submitted", actor=referrer)

    assert sorted(recipients) == sorted([referrer.email, admin_user.email, second_admin.email])
    subjects = {m.to[0]: m.subject for m in mailoutbox}
    assert subjects == {
        referrer.email: f"{referral.reference}: referral received",
        admin_user.email: f"{referral.reference}: new referral",
        second_admin.email: f"{referral.reference}: new referral",
    }


def test_an_information_request_emails_the_referrer_only(
    referral, referrer, admin_user, second_admin, mailoutbox
):
    assert deliver(referral, "info_requested", actor=admin_user) == [referrer.email]
    assert mailoutbox[0].subject == f"{referral.reference}: more information requested"


def test_the_referrers_answer_emails_every_active_admin(
    referral, referrer, admin_user, second_admin, former_admin, mailoutbox
):
    recipients = deliver(referral, "answered", actor=referrer)

    assert sorted(recipients) == sorted([admin_user.email, second_admin.email])
    assert {m.subject for m in mailoutbox} == {f"{referral.reference}: the referrer replied"}


def test_a_decline_emails_the_referrer_without_the_reason(
    referral, referrer, admin_user, mailoutbox
):
    Referral.objects.filter(pk=referral.pk).update(
        decline_reason="other", decline_note="unique-decline-note"
    )

    assert deliver(referral, "declined", actor=admin_user) == [referrer.email]
    body = " ".join(mailoutbox[0].body.split())
    assert (
        "the practice has declined this referral; the reason and advice for the patient's care "
        "are on the referral page." in body
    )
    assert "unique-decline-note" not in body
    assert "Other" not in body


def test_acceptance_emails_the_assigned_radiologist(
    referral, admin_user, radiologist, second_admin, mailoutbox
):
    assign(referral, radiologist)

    recipients = deliver(referral, "accepted", actor=admin_user)

    assert radiologist.email in recipients
    subjects = {m.to[0]: m.subject for m in mailoutbox}
    assert subjects[radiologist.email] == f"{referral.reference}: assigned to you for review"


def test_an_admin_who_assigns_themselves_is_not_emailed_about_it(referral, admin_user):
    assign(referral, admin_user)

    recipients = notification_recipients(referral=referral, event="accepted", actor=admin_user)
    assert admin_user.email not in recipients


def test_a_booking_emails_the_referrer(referral, referrer, admin_user, mailoutbox):
    assert deliver(referral, "booked", actor=admin_user) == [referrer.email]
    assert mailoutbox[0].subject == f"{referral.reference}: procedure booked"


def test_a_message_from_the_practice_emails_the_referrer(
    referral, referrer, admin_user, radiologist, mailoutbox
):
    assign(referral, radiologist)

    assert deliver(referral, "message", actor=radiologist) == [referrer.email]
    assert mailoutbox[0].subject == f"{referral.reference}: new message from the practice"


def test_a_message_from_the_referrer_emails_the_admins_and_the_assigned_radiologist(
    referral, referrer, admin_user, former_admin, radiologist, mailoutbox
):
    assign(referral, radiologist)

    recipients = deliver(referral, "message", actor=referrer)

    assert sorted(recipients) == sorted([admin_user.email, radiologist.email])
    assert {m.subject for m in mailoutbox} == {
        f"{referral.reference}: new message from the referrer"
    }


def test_a_message_from_the_referrer_before_assignment_emails_the_admins_only(
    referral, referrer, admin_user
):
    assert notification_recipients(referral=referral, event="message", actor=referrer) == [
        admin_user.email
    ]


def test_someone_who_is_both_admin_and_assigned_radiologist_gets_one_email(
    referral, referrer, admin_user
):
    admin_user.groups.add(Group.objects.get_or_create(name=roles.RADIOLOGIST)[0])
    assign(referral, admin_user)

    assert notification_recipients(referral=referral, event="message", actor=referrer) == [
        admin_user.email
    ]


def test_a_deactivated_referrer_is_not_emailed(referral, referrer, admin_user):
    referrer.is_active = False
    referrer.save(update_fields=["is_active"])

    assert notification_recipients(referral=referral, event="booked", actor=admin_user) == []


def test_an_unknown_event_is_refused(referral, referrer):
    with pytest.raises(ValueError, match="Unknown notification event"):
        notification_recipients(referral=referral, event="exploded", actor=referrer)


def test_the_task_is_registered_with_celery_under_its_name():
    from portal.celery import app

    assert app.tasks["referrals.send_notification"].name == send_notification.name


def test_a_notification_already_sent_is_not_sent_again(referral, referrer, mailoutbox):
    row = Notification.objects.create(referral=referral, event="booked", recipient=referrer.email)
    send_notification.run(row.pk)
    send_notification.run(row.pk)  # the same task delivered twice
    assert len(mailoutbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)


# --- queued on commit ---------------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch, referral):
    """Calls to send_notification.apply_async, recorded instead of sent to the broker; the
    outbox starts empty (the referral fixture's own submission wrote rows)."""
    Notification.objects.all().delete()
    calls = []
    monkeypatch.setattr(
        send_notification, "apply_async", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    return calls


def test_notify_queues_one_task_per_recipient_only_when_the_transaction_commits(
    referral, referrer, admin_user, second_admin, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            notify(referral=referral, event="submitted", actor=referrer)
        assert queued == []  # registered, not yet run

    assert len(callbacks) == 3
    rows = {row.pk: row.recipient for row in Notification.objects.filter(referral=referral)}
    assert sorted(rows.values()) == sorted([referrer.email, admin_user.email, second_admin.email])
    assert sorted(kwargs["args"][0] for _args, kwargs in queued) == sorted(rows)
    for _args, kwargs in queued:
        assert kwargs["retry"] is False


def test_a_change_that_is_rolled_back_queues_nothing(
    referral, referrer, admin_user, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            notify(referral=referral, event="answered", actor=referrer)
            raise RuntimeError("the change failed")

    assert callbacks == []
    assert queued == []
    assert not Notification.objects.exists()


def test_a_broker_that_is_down_does_not_fail_the_request(
    referral, referrer, admin_user, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    Notification.objects.all().delete()  # the fixture's own submission wrote rows

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(send_notification, "apply_async", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        notify(referral=referral, event="answered", actor=referrer)

    assert "not queued; the sweeper will retry" in caplog.text
    assert admin_user.email not in caplog.text
    # The outbox row waits for the sweeper, which sends it once the broker is back.
    row = Notification.objects.get(referral=referral, event="answered")
    assert (row.status, row.enqueued_at) == ("queued", None)
    monkeypatch.undo()
    sent = []
    monkeypatch.setattr(send_notification, "apply_async", lambda args, **kw: sent.append(args))
    from referrals.notifications import notifications_sweep

    assert notifications_sweep() == {"waiting": 1, "sent": 1, "reclaimed": 0, "failed": 0}
    assert sent == [[row.pk]]


# --- what an email may say ----------------------------------------------------------------------

PATIENT_DOB = datetime.date(1931, 7, 23)
MEDICARE = make_medicare_number(random.Random(1931))
IHI = make_ihi(random.Random(1931))
PRIVATE = [
    "Zelda",
    "Quixotic",
    MEDICARE,
    f"{MEDICARE[:4]} {MEDICARE[4:9]} {MEDICARE[9]}",
    IHI,
    "1931-07-23",
    "23/07/1931",
    "23/7/1931",
    "23.07.1931",
    "23 July 1931",
    "23 Jul 1931",
    "July 23, 1931",
    "0491 570 156",
    "Xanadu Vale",
    "unique-clinical-phrase",
    "unique-analgesia",
    "unique-allergy",
    "unique-decline-note",
    "unique-request-note",
    "unique-message-text",
    "osteoporotic",
    "Osteoporotic",
]


@pytest.fixture
def private_referral(referrer, admin_user, radiologist):
    referral = make_referral(
        referrer,
        status="submitted",
        patient_given_name="Zelda",
        patient_family_name="Quixotic",
        patient_dob=PATIENT_DOB,
        medicare_number=MEDICARE,
        ihi=IHI,
        patient_phone="0491 570 156",
        suburb="Xanadu Vale",
        history="unique-clinical-phrase",
        current_analgesia="unique-analgesia",
        allergies="unique-allergy",
    )
    Referral.objects.filter(pk=referral.pk).update(
        decline_reason="other", decline_note="unique-decline-note"
    )
    InfoRequest.objects.create(
        referral=referral, requested_by=admin_user, note="unique-request-note"
    )
    Message.objects.create(referral=referral, author=referrer, body="unique-message-text")
    return assign(referral, radiologist)


def every_event_and_actor(referrer, admin_user):
    """(event, actor, extra arguments) for every event, by someone whose action it can be."""
    radiologist = Referral.objects.get(referrer=referrer).assigned_radiologist
    for event in EVENTS:
        if event == "message":
            yield event, admin_user, {}
            yield event, referrer, {}
        elif event in ("submitted", "answered", "answered_to_ir"):
            yield event, referrer, {}
        elif event == "approved":
            yield event, radiologist, {}
        elif event == "unassigned":
            yield event, admin_user, {"previous_radiologist_id": radiologist.pk}
        else:
            yield event, admin_user, {}


def test_no_email_names_the_patient_or_says_anything_clinical(
    private_referral, referrer, admin_user, mailoutbox
):
    sent = 0
    for event, actor, extra in every_event_and_actor(referrer, admin_user):
        recipients = deliver(private_referral, event, actor, **extra)
        assert recipients, f"{event} from {actor.email} emailed nobody"
        sent += len(recipients)

    assert len(mailoutbox) == sent
    for message in mailoutbox:
        text = f"{message.subject}\n{message.body}"
        leaked = [value for value in PRIVATE if value in text]
        assert leaked == [], f"{message.subject!r} to {message.to} contains {leaked}"


def test_every_email_carries_the_reference_and_a_link_to_the_referral(
    private_referral, referrer, admin_user, settings
):
    referral = private_referral
    settings.SITE_URL = "https://referrals.practice.example"
    link = f"https://referrals.practice.example/referrals/{referral.uuid}/"

    for event, actor, extra in every_event_and_actor(referrer, admin_user):
        who = notification_recipients(referral=referral, event=event, actor=actor, **extra)
        for address in who:
            message = notification_message(referral=referral, event=event, recipient=address)
            assert message.subject.startswith(f"{referral.reference}: ")
            assert referral.reference in message.body
            assert link in message.body
            assert message.from_email == settings.DEFAULT_FROM_EMAIL
            assert message.to == [address]


# --- delivery -----------------------------------------------------------------------------------


class RecordingHandler:
    """Keeps every message it is given and answers `reply`."""

    def __init__(self, reply="250 Message accepted for delivery"):
        self.reply = reply
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return self.reply


@contextmanager
def smtp_server(handler):
    """A real SMTP server on 127.0.0.1; yields its port."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture
def smtp_at(settings):
    """Point Django's SMTP backend at a port on 127.0.0.1."""

    def point(port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5

    return point


@pytest.fixture
def retries(monkeypatch):
    """(countdown, what it raised) for each self.retry the task reaches; the real retry runs."""
    reached = []
    real_retry = send_notification.retry

    def spy(*args, **kwargs):
        try:
            return real_retry(*args, **kwargs)
        except BaseException as raised:
            reached.append((kwargs.get("countdown"), type(raised)))
            raise

    monkeypatch.setattr(send_notification, "retry", spy)
    return reached


def test_an_email_is_delivered_through_a_real_smtp_server(referral, referrer, smtp_at):
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        smtp_at(port)
        result = send_notification.apply(args=[booked_row(referral, referrer)])

    assert result.successful()
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.rcpt_tos == [referrer.email]
    received = email.message_from_bytes(envelope.content)
    assert received["Subject"] == f"{referral.reference}: procedure booked"
    assert received["To"] == referrer.email


def test_a_mail_server_that_is_down_makes_the_task_retry_with_backoff_then_fail(
    referral, referrer, smtp_at, retries, mailoutbox, settings
):
    smtp_at(free_port())  # bound, then closed: nothing listens there
    # apply() runs each retry at once instead of after its countdown, so one call plays out the
    # whole schedule: five retries, then a sixth failure that is the task's own.
    row_id = booked_row(referral, referrer)
    result = send_notification.apply(args=[row_id])

    # The outbox's one schedule, for packets and emails alike.
    assert [countdown for countdown, _raised in retries] == list(settings.OUTBOX_RETRY_DELAYS)
    assert all(raised is Retry for _countdown, raised in retries)
    # Past the last retry the row is marked failed (shown to the practice), not retried again.
    row = Notification.objects.get(pk=row_id)
    assert (row.status, row.attempts) == ("failed", 6)
    assert "ConnectionRefusedError" in row.last_error
    assert result.state == "SUCCESS"
    assert mailoutbox == []


def test_a_mail_server_that_says_try_again_later_is_retried(
    referral, referrer, smtp_at, retries, settings
):
    handler = RecordingHandler(reply="451 Requested action aborted: try again later")
    with smtp_server(handler) as port:
        smtp_at(port)
        row_id = booked_row(referral, referrer)
        send_notification.apply(args=[row_id])

    assert len(handler.envelopes) == 1 + len(settings.OUTBOX_RETRY_DELAYS)
    assert len(retries) == len(settings.OUTBOX_RETRY_DELAYS)
    assert Notification.objects.get(pk=row_id).status == "failed"
