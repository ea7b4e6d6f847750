"""The practice's side of the lifecycle: accept and assign, decline, the IR's decision, booking,
and the message thread. Every change goes through services.referral_transition."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from portal.roles import RADIOLOGIST, has_role
from referrals.models import DeclineReason, Message, Referral, Site
from referrals.services import (
    TransitionNotAllowed,
    _audit,
    _notify,
    attachment_add,
    referral_request_info,
    referral_transition,
)

S = Referral.Status

# What the referrer is told to do for the patient meanwhile, by decline reason (SPEC 9).
DECLINE_ADVICE = {
    DeclineReason.OUTSIDE_LEVELS: (
        "Fractures outside T11 to L2 are not treated under this service's criteria. Continue "
        "analgesia and osteoporosis management; a spinal surgeon or pain specialist can advise "
        "on other options."
    ),
    DeclineReason.NOT_OSTEOPOROTIC: (
        "The criteria cover osteoporotic fractures. For a traumatic fracture consider spinal "
        "surgical review; for a suspected pathological fracture, oncology or haematology "
        "review. Refer again if the picture changes."
    ),
    DeclineReason.PAIN_UNDER_7: (
        "Pain below 7/10 is usually managed conservatively: analgesia, activity as tolerated, "
        "physiotherapy and osteoporosis treatment. Refer again within three weeks of onset if "
        "the pain becomes severe despite opiates."
    ),
    DeclineReason.OPIOIDS: (
        "The criteria ask for pain poorly controlled by opiate analgesia. Consider a trial of "
        "opiates with laxatives and review; refer again within three weeks of onset if pain "
        "stays severe."
    ),
    DeclineReason.OVER_THREE_WEEKS: (
        "The criteria allow pain of three weeks or less, so this fracture is outside the "
        "window. Continue analgesia and mobilisation; start or review osteoporosis treatment "
        "to prevent further fractures. A new fracture can be referred again."
    ),
    DeclineReason.NO_ACUTE_IMAGING: (
        "An acute fracture must be shown on MRI (or SPECT-CT when MRI is contraindicated). "
        "If pain began within three weeks, arrange an MRI and refer again with the report."
    ),
    DeclineReason.CONTRAINDICATION: (
        "A contraindication (uncorrected coagulopathy, infection, canal compromise with a "
        "neurological deficit, or a healed fracture) rules the procedure out for now. Treat "
        "the cause; refer again if it resolves while the pain is still recent."
    ),
    DeclineReason.OTHER: (
        "See the practice's note. Continue analgesia and osteoporosis management, and contact "
        "the practice if you would like to discuss the patient."
    ),
}


def referral_accept(
    *, referral: Referral, by, radiologist, note: str = "", expected_from: str | None = None
) -> Referral:
    """Accept and assign an interventional radiologist, who then reviews the packet."""
    if not (radiologist.is_active and has_role(radiologist, RADIOLOGIST)):
        raise TransitionNotAllowed("Choose an interventional radiologist to assign.")

    def assign(locked: Referral) -> list[str]:
        locked.assigned_radiologist = radiologist
        return ["assigned_radiologist"]

    with transaction.atomic():
        referral_transition(
            referral=referral,
            to=S.ACCEPTED,
            by=by,
            note=note or f"Assigned to {radiologist.get_full_name() or radiologist.email}",
            expected_from=expected_from,
            update=assign,
        )
        _notify(referral, "accepted", by)
    return referral


def referral_decline(
    *, referral: Referral, by, reason: str, note: str = "", expected_from: str | None = None
) -> Referral:
    """Decline with a coded reason; the referrer gets advice for the patient's care."""
    if reason not in DeclineReason.values:
        raise TransitionNotAllowed("Choose the reason for declining.")
    if reason == DeclineReason.OTHER and not note.strip():
        raise TransitionNotAllowed("Say why in the note when the reason is “Other”.")

    def record(locked: Referral) -> list[str]:
        locked.decline_reason = reason
        locked.decline_note = note.strip()
        return ["decline_reason", "decline_note"]

    with transaction.atomic():
        referral_transition(
            referral=referral,
            to=S.DECLINED,
            by=by,
            note=f"{DeclineReason(reason).label}. {note.strip()}".strip(),
            expected_from=expected_from,
            update=record,
        )
        _notify(referral, "declined", by)
    return referral


def referral_ask(
    *, referral: Referral, by, items: list[dict], note: str, expected_from: str | None = None
):
    """A targeted request for information, with its notification."""
    with transaction.atomic():
        request = referral_request_info(
            referral=referral, by=by, items=items, note=note, expected_from=expected_from
        )
        _notify(referral, "info_requested", by)
    return request


def referral_approve(
    *, referral: Referral, by, note: str = "", expected_from: str | None = None
) -> Referral:
    """The assigned IR finds the patient suitable; the admins then book."""
    return referral_transition(
        referral=referral, to=S.APPROVED, by=by, note=note.strip(), expected_from=expected_from
    )


def referral_book(
    *,
    referral: Referral,
    by,
    start: datetime,
    site: Site,
    note: str = "",
    expected_from: str | None = None,
) -> Referral:
    if timezone.is_naive(start):
        start = timezone.make_aware(start)
    if start < timezone.now():
        raise TransitionNotAllowed("The booking must be in the future.")
    if not site.is_active:
        raise TransitionNotAllowed("Choose a hospital where the practice operates.")

    def record(locked: Referral) -> list[str]:
        locked.booked_start = start
        locked.booking_site = site
        return ["booked_start", "booking_site"]

    when = timezone.localtime(start).strftime("%-d %B %Y, %H:%M")
    with transaction.atomic():
        referral_transition(
            referral=referral,
            to=S.BOOKED,
            by=by,
            note=f"{when} at {site.name}. {note.strip()}".strip(),
            expected_from=expected_from,
            update=record,
        )
        _notify(referral, "booked", by)
    return referral


def referral_rebook(*, referral: Referral, by, note: str = "", expected_from=None) -> Referral:
    """Back to approved so a new date can be booked; the old booking is cleared."""

    def clear(locked: Referral) -> list[str]:
        locked.booked_start = None
        locked.booking_site = None
        return ["booked_start", "booking_site"]

    return referral_transition(
        referral=referral,
        to=S.APPROVED,
        by=by,
        note=note.strip() or "Booking cancelled, to be rebooked",
        expected_from=expected_from,
        update=clear,
    )


def referral_complete(*, referral: Referral, by, note: str = "", expected_from=None) -> Referral:
    return referral_transition(
        referral=referral, to=S.COMPLETED, by=by, note=note.strip(), expected_from=expected_from
    )


def message_post(*, referral: Referral, by, body: str, files=()) -> Message:
    """A message in the referral's thread, optionally with documents."""
    body = body.strip()
    if not body:
        raise TransitionNotAllowed("Write a message before sending.")
    if referral.is_draft:
        raise TransitionNotAllowed("Messages start once the referral is sent.")
    with transaction.atomic():
        message = Message.objects.create(referral=referral, author=by, body=body)
        for kind, uploaded in files:
            attachment_add(
                referral=referral, kind=kind, uploaded_file=uploaded, by=by, message=message
            )
        Referral.objects.filter(pk=referral.pk).update(updated_at=timezone.now())
        _audit(referral, "message_sent", by)
        _notify(referral, "message", by)
    return message
