"""Email notifications (SPEC 10): who hears of each event, what they are sent, and the task that
sends it. The task lives here; referrals/tasks.py imports it so Celery's autodiscovery finds it.

An email carries the reference and a link, nothing else about the referral: never the patient's
name, identifiers or any clinical detail (SPEC 11). Mail leaves the building in the clear and sits
in inboxes we do not control, so the templates are given nothing else to render.
"""

import logging
import smtplib
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal import roles
from referrals.models import Notification, Referral

logger = logging.getLogger(__name__)

# Who receives each event. "receipt" is the referrer even when they are the actor (the one email
# that confirms their own action); "other_side" is resolved from who wrote the message.
EVENTS = {
    "submitted": ("receipt", "admins"),
    "info_requested": ("referrer",),
    "answered": ("admins",),
    "declined": ("referrer",),
    "accepted": ("radiologist",),
    "booked": ("referrer",),
    "message": ("other_side",),
}

# The subject after the reference ("VP-2026-00042: referral received"), as the referrer reads it;
# STAFF_SUBJECTS where the practice's side of the same event reads differently.
SUBJECTS = {
    "submitted": "referral received",
    "info_requested": "more information requested",
    "answered": "the referrer replied",
    "declined": "referral declined",
    "accepted": "assigned to you for review",
    "booked": "procedure booked",
    "message": "new message from the practice",
}
STAFF_SUBJECTS = {
    "submitted": "new referral",
    "message": "new message from the referrer",
}


def _check_event(event: str) -> None:
    if event not in EVENTS:
        raise ValueError(f"Unknown notification event: {event!r}")


def notification_recipients(*, referral: Referral, event: str, actor=None) -> list[str]:
    """Email addresses to notify, de-duplicated, active users only, without the actor."""
    _check_event(event)
    wanted = EVENTS[event]
    if wanted == ("other_side",):
        from_referrer = actor is not None and actor.pk == referral.referrer_id
        wanted = ("admins", "radiologist") if from_referrer else ("referrer",)

    who = Q()
    if {"receipt", "referrer"} & set(wanted):
        who |= Q(pk=referral.referrer_id)
    # By id, not referral.assigned_radiologist: the transition service refreshes the ids on the
    # caller's object but may leave a stale cached user behind.
    if "radiologist" in wanted and referral.assigned_radiologist_id:
        who |= Q(pk=referral.assigned_radiologist_id)
    if "admins" in wanted:
        who |= Q(groups__name=roles.ADMIN)
    if not who:  # an empty Q would match everyone
        return []
    # One query: WHERE is_active AND (pk = referrer OR pk = IR OR group = admin).
    rows = (
        get_user_model()
        .objects.filter(who, is_active=True)
        .distinct()
        .order_by("pk")
        .values_list("pk", "email")
    )
    keep_actor = "receipt" in wanted
    emails: list[str] = []
    seen: set[str] = set()
    for pk, email in rows:
        email = (email or "").strip()
        if not email or email.lower() in seen:
            continue
        if actor is not None and pk == actor.pk and not (keep_actor and pk == referral.referrer_id):
            continue  # people are not told about what they just did themselves
        seen.add(email.lower())
        emails.append(email)
    return emails


def referral_url(referral: Referral) -> str:
    return settings.SITE_URL + reverse("referral_detail", args=[referral.uuid])


def notification_message(*, referral: Referral, event: str, recipient: str) -> EmailMessage:
    """The email for one recipient, from templates/emails/<event>.txt."""
    _check_event(event)
    to_referrer = recipient.strip().lower() == (referral.referrer.email or "").strip().lower()
    topic = SUBJECTS[event] if to_referrer else STAFF_SUBJECTS.get(event, SUBJECTS[event])
    # Deliberately only these three values: see the module docstring.
    context = {
        "reference": referral.reference,
        "url": referral_url(referral),
        "to_referrer": to_referrer,
    }
    body = render_to_string(f"emails/{event}.txt", context).strip() + "\n"
    return EmailMessage(
        subject=f"{referral.reference}: {topic}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
    )


def notify(*, referral: Referral, event: str, actor=None) -> None:
    """Write one outbox row per recipient, and send each when the caller's transaction commits.

    Call it inside the transaction that makes the change: a rollback then sends nothing, and a
    broker that is down at commit loses nothing (the row stays queued for the sweeper).
    """
    for email in notification_recipients(referral=referral, event=event, actor=actor):
        row = Notification.objects.create(referral=referral, event=event, recipient=email)
        transaction.on_commit(partial(notification_enqueue, row.pk))


def notification_enqueue(notification_id: int) -> bool:
    try:
        # retry=False: a doctor's request must not wait on a broker that is down.
        send_notification.apply_async(args=[notification_id], retry=False)
    except Exception:
        # Logged without the address or anything about the patient; the sweeper sends it later.
        logger.warning("notification %s not queued; the sweeper will retry", notification_id)
        return False
    Notification.objects.filter(pk=notification_id).update(enqueued_at=timezone.now())
    return True


def notifications_sweep() -> dict:
    """Send what the broker never got, and what a worker died while sending."""
    N = Notification.Status
    now = timezone.now()
    resend_before = now - timedelta(seconds=settings.PACKET_RESEND_SECONDS)
    Notification.objects.filter(status=N.SENDING, claimed_at__lt=now - SENDING_STALE).update(
        status=N.QUEUED, enqueued_at=None
    )
    waiting = list(
        Notification.objects.filter(status=N.QUEUED)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=resend_before))
        .values_list("pk", flat=True)[:500]
    )
    sent = sum(notification_enqueue(pk) for pk in waiting)
    return {"waiting": len(waiting), "sent": sent}


SENDING_STALE = timedelta(minutes=10)  # far above any SMTP timeout: its worker is gone
RETRY_DELAYS = (30, 60, 120, 240, 480)  # about 15 minutes to ride out a mail server restart


@shared_task(
    bind=True,
    name="referrals.send_notification",
    # A worker that dies mid-send gets the task again: a rare duplicate email beats a lost one.
    acks_late=True,
    ignore_result=True,
    max_retries=len(RETRY_DELAYS),
)
def send_notification(self, notification_id: int) -> None:
    """Claim the outbox row, send it, mark it sent. A row already sent (or being sent by a live
    worker) is left alone, so a task delivered twice sends one email."""
    N = Notification.Status
    now = timezone.now()
    claimed = (
        Notification.objects.filter(pk=notification_id)
        .filter(Q(status=N.QUEUED) | Q(status=N.SENDING, claimed_at__lt=now - SENDING_STALE))
        .update(status=N.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return
    row = Notification.objects.select_related("referral__referrer").get(pk=notification_id)
    message = notification_message(referral=row.referral, event=row.event, recipient=row.recipient)
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        # The mail server is down or slow: back to the queue, and retry with backoff.
        error = f"{type(exc).__name__}: {exc}"[:300]
        last = self.request.retries >= self.max_retries
        Notification.objects.filter(pk=notification_id).update(
            status=N.FAILED if last else N.QUEUED, last_error=error
        )
        if last:
            logger.error("notification %s failed after retries", notification_id)
            return
        raise self.retry(exc=exc, countdown=RETRY_DELAYS[self.request.retries]) from exc
    Notification.objects.filter(pk=notification_id).update(
        status=N.SENT, sent_at=timezone.now(), last_error=""
    )


@shared_task(name="referrals.sweep_notifications", ignore_result=True)
def sweep_notifications() -> dict:
    return notifications_sweep()
