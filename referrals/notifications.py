"""Email notifications (SPEC 10): who hears of each event and what they are sent. Each email is
an outbox row (referrals/outbox.py), sent once by the worker.

An email carries the reference and a link, nothing else about the referral: never the patient's
name, identifiers or any clinical detail (SPEC 11). Mail leaves the building in the clear and sits
in inboxes we do not control, so the templates are given nothing else to render.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from portal import roles
from portal.models import PracticeProfile
from referrals import outbox
from referrals.hl7.letters import letter_queue
from referrals.models import Notification, Referral

N = Notification.Status
EMAILS = outbox.register(
    outbox.OutboxKind(
        model=Notification,
        task="referrals.send_notification",
        queued=N.QUEUED,
        working=N.SENDING,
        done=N.SENT,
        failed=N.FAILED,
    )
)

# Who receives each event. "receipt" is the referrer even when they are the actor (the one email
# that confirms their own action); "other_side" is resolved from who wrote the message;
# "admins_if_ir" is the admins when the actor is the referral's assigned IR (the IR's decisions
# are news to triage, an admin's own are not); "previous_radiologist" is the IR a reassignment
# or an undone acceptance took the referral from (passed by the caller).
EVENTS = {
    "submitted": ("receipt", "admins"),
    "info_requested": ("referrer", "admins_if_ir"),
    "answered": ("admins",),
    "answered_to_ir": ("radiologist",),
    "declined": ("referrer", "admins_if_ir"),
    "accepted": ("radiologist", "referrer"),
    "approved": ("admins",),
    "booked": ("referrer",),
    "completed": ("referrer",),
    "reassigned": ("radiologist",),
    "unassigned": ("previous_radiologist",),
    "message": ("other_side",),
}

# The subject after the reference ("VP-2026-00042: referral received"), as the referrer reads it;
# STAFF_SUBJECTS where the practice's side of the same event reads differently.
SUBJECTS = {
    "submitted": "referral received",
    "info_requested": "more information requested",
    "answered": "the referrer replied",
    "answered_to_ir": "the referrer answered your request",
    "declined": "referral declined",
    "accepted": "referral accepted",
    "approved": "approved by the IR: ready to book",
    "booked": "procedure booked",
    "completed": "procedure completed",
    "reassigned": "assigned to you for review",
    "unassigned": "no longer assigned to you",
    "message": "new message from the practice",
}
STAFF_SUBJECTS = {
    "submitted": "new referral",
    "info_requested": "the IR asked the referrer for more information",
    "declined": "the IR found it not suitable",
    "accepted": "assigned to you for review",
    "message": "new message from the referrer",
}


def _check_event(event: str) -> None:
    if event not in EVENTS:
        raise ValueError(f"Unknown notification event: {event!r}")


def notification_recipients(
    *, referral: Referral, event: str, actor=None, previous_radiologist_id: int | None = None
) -> list[str]:
    """Email addresses to notify, de-duplicated, active users only, without the actor."""
    _check_event(event)
    wanted = EVENTS[event]
    if "admins_if_ir" in wanted:
        by_ir = actor is not None and actor.pk == referral.assigned_radiologist_id
        wanted = tuple(w for w in wanted if w != "admins_if_ir") + (("admins",) if by_ir else ())
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
    if "previous_radiologist" in wanted and previous_radiologist_id:
        who |= Q(pk=previous_radiologist_id)
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
    # Deliberately only these values (and the practice's own contact details for the footer):
    # see the module docstring.
    context = {
        "reference": referral.reference,
        "url": referral_url(referral),
        "to_referrer": to_referrer,
        "practice": PracticeProfile.load(),
    }
    body = render_to_string(f"emails/{event}.txt", context).strip() + "\n"
    return EmailMessage(
        subject=f"{referral.reference}: {topic}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
    )


def notify(
    *, referral: Referral, event: str, actor=None, previous_radiologist_id: int | None = None
) -> None:
    """Write one outbox row per recipient, each sent once the caller's transaction commits; and
    for a referral that came by secure message, the letter to its doctor's clinical software.

    Call it inside the transaction that makes the change: a rollback then sends nothing, and a
    broker that is down at commit loses nothing (the row stays queued for the sweeper).
    """
    recipients = notification_recipients(
        referral=referral, event=event, actor=actor, previous_radiologist_id=previous_radiologist_id
    )
    for email in recipients:
        row = Notification.objects.create(referral=referral, event=event, recipient=email)
        outbox.enqueue(EMAILS, row.pk)
    letter_queue(referral=referral, event=event)


def notification_send(row: Notification) -> dict:
    """Send one outbox row's email (the worker's part). A mail server that is down or slow
    raises OSError (smtplib's errors are OSErrors), which the outbox retries."""
    referral = Referral.objects.select_related("referrer").get(pk=row.referral_id)
    notification_message(referral=referral, event=row.event, recipient=row.recipient).send()
    return {}


def notifications_sweep() -> dict:
    return outbox.sweep(EMAILS)
