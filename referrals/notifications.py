"""Email notifications (SPEC 10): who hears of each event, what they are sent, and the task that
sends it. The task lives here; referrals/tasks.py imports it so Celery's autodiscovery finds it.

An email carries the reference and a link, nothing else about the referral: never the patient's
name, identifiers or any clinical detail (SPEC 11). Mail leaves the building in the clear and sits
in inboxes we do not control, so the templates are given nothing else to render.
"""

import logging
import smtplib
from functools import partial

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from portal import roles
from referrals.models import Referral

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
    """Queue one email per recipient when the caller's transaction commits.

    Call it inside the transaction that makes the change: a rollback then sends nothing, and the
    worker never loads a referral whose change it cannot see yet.
    """
    for email in notification_recipients(referral=referral, event=event, actor=actor):
        transaction.on_commit(partial(_enqueue, referral.pk, event, email))


def _enqueue(referral_id: int, event: str, recipient: str) -> None:
    try:
        # retry=False: a doctor's request must not wait on a broker that is down.
        send_notification.apply_async(args=[referral_id, event, recipient], retry=False)
    except Exception:
        # The change is saved and shown on the referral page; a lost email must not turn that
        # into an error page. Logged without the address or anything about the patient.
        logger.warning(
            "notification %r for referral %s not queued", event, referral_id, exc_info=True
        )


@shared_task(
    bind=True,
    name="referrals.send_notification",
    # A worker that dies mid-send gets the task again: a rare duplicate email beats a lost one.
    acks_late=True,
    ignore_result=True,
    # SMTPException and OSError (ConnectionError, TimeoutError, refused) are the mail server
    # being down or slow; anything else (a bad template, a missing referral) will not pass.
    autoretry_for=(smtplib.SMTPException, OSError),
    max_retries=5,
    # 30, 60, 120, 240, 480 s: about 15 minutes to ride out a mail server restart. (True would
    # mean 1, 2, 4, 8, 16 s, over before most outages are.)
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=False,
)
def send_notification(self, referral_id: int, event: str, recipient: str) -> None:
    referral = Referral.objects.select_related("referrer").filter(pk=referral_id).first()
    if referral is None:
        logger.warning("notification %r: referral %s no longer exists", event, referral_id)
        return
    notification_message(referral=referral, event=event, recipient=recipient).send()
