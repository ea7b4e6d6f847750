"""The referral's life (SPEC section 4): the table of allowed transitions, and every transition
as a service: submit, withdraw, ask for information, answer, accept, decline, approve, book,
rebook, complete, and the message thread.

Each writes its status event, its audit event and its notifications itself, whoever calls it
(a view, the admin, a command, a test), in one transaction that locks the row.
"""

from collections.abc import Callable
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from eligibility.rules import FactsError
from portal.audit import audit_record
from portal.roles import ADMIN, RADIOLOGIST, has_role
from referrals.attachments import attachment_add
from referrals.booking import booking_instructions
from referrals.errors import SubmissionIncomplete, TransitionNotAllowed
from referrals.intake import fact_problems, referral_assess, referral_missing_for_submit
from referrals.models import DeclineReason, InfoRequest, Message, Referral, Site, StatusEvent
from referrals.notifications import notify
from referrals.packets.queue import packet_queue
from referrals.selectors import possible_duplicates, referral_open_info_request

S = Referral.Status
REFERRER, ADMIN_ACTOR, ASSIGNED_IR = "referrer", "admin", "assigned_ir"

# (from, to) -> who may make it. Section 4 of the spec, as data.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.DRAFT, S.SUBMITTED): REFERRER,
    (S.SUBMITTED, S.INFO_REQUESTED): ADMIN_ACTOR,
    (S.SUBMITTED, S.ACCEPTED): ADMIN_ACTOR,
    (S.SUBMITTED, S.DECLINED): ADMIN_ACTOR,
    (S.INFO_REQUESTED, S.SUBMITTED): REFERRER,
    (S.ACCEPTED, S.APPROVED): ASSIGNED_IR,
    (S.ACCEPTED, S.DECLINED): ASSIGNED_IR,
    (S.ACCEPTED, S.INFO_REQUESTED): ASSIGNED_IR,
    (S.APPROVED, S.BOOKED): ADMIN_ACTOR,
    (S.BOOKED, S.COMPLETED): ADMIN_ACTOR,
    (S.BOOKED, S.APPROVED): ADMIN_ACTOR,
    # Asking later keeps the referral's place: the IR after approving (before booking), an
    # admin after booking; the answer returns it to the status it was asked from (the
    # request's return_to), with its IR and its booking as they were.
    (S.APPROVED, S.INFO_REQUESTED): ASSIGNED_IR,
    (S.BOOKED, S.INFO_REQUESTED): ADMIN_ACTOR,
    (S.INFO_REQUESTED, S.ACCEPTED): REFERRER,
    (S.INFO_REQUESTED, S.APPROVED): REFERRER,
    (S.INFO_REQUESTED, S.BOOKED): REFERRER,
    # An admin reassigns an accepted referral to another IR, or undoes the acceptance.
    (S.ACCEPTED, S.ACCEPTED): ADMIN_ACTOR,
    (S.ACCEPTED, S.SUBMITTED): ADMIN_ACTOR,
    **{
        (state, S.WITHDRAWN): REFERRER
        for state in (S.DRAFT, S.SUBMITTED, S.INFO_REQUESTED, S.ACCEPTED, S.APPROVED, S.BOOKED)
    },
}


def _may_act(user, referral: Referral, actor: str) -> bool:
    if actor == REFERRER:
        return referral.referrer_id == user.pk
    if actor == ADMIN_ACTOR:
        return has_role(user, ADMIN)
    if actor == ASSIGNED_IR:
        return has_role(user, RADIOLOGIST) and referral.assigned_radiologist_id == user.pk
    return False


def transition_allowed(referral: Referral, to: str, user) -> bool:
    actor = TRANSITIONS.get((referral.status, to))
    return actor is not None and _may_act(user, referral, actor)


def referral_transition(
    *,
    referral: Referral,
    to: str,
    by,
    note: str = "",
    expected_from: str | None = None,
    update: Callable[[Referral], list[str]] | None = None,
) -> Referral:
    """Move a referral to `to`: lock the row, check, save, record the event, in one transaction.

    `expected_from` is the status the user saw; if the row has moved on since (another admin got
    there first) nothing changes and the message says so. `update` may set more fields on the
    locked row and returns their names. Returns the referral, refreshed from the locked row.
    """
    with transaction.atomic():
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        if expected_from is not None and locked.status != expected_from:
            raise TransitionNotAllowed(
                f"{locked.reference} is now “{locked.get_status_display()}”: someone changed it "
                "while you were looking. Nothing was changed; please check it again."
            )
        actor = TRANSITIONS.get((locked.status, to))
        if actor is None:
            raise TransitionNotAllowed(
                f"A referral that is “{locked.get_status_display()}” cannot become “{S(to).label}”."
            )
        if not _may_act(by, locked, actor):
            raise TransitionNotAllowed("You are not the person who can make this change.")
        from_status = locked.status
        locked.status = to
        fields = ["status", "updated_at"]
        if actor != REFERRER and locked.answered_at is not None:
            locked.answered_at = None  # the practice has acted on the answer
            fields.append("answered_at")
        if update is not None:
            fields += update(locked)
        locked.save(update_fields=fields)
        StatusEvent.objects.create(
            referral=locked, from_status=from_status, to_status=to, by=by, note=note
        )
        audit_record(action="referral_transition", referral=locked, actor=by,
                     detail=f"{from_status} → {to}")  # fmt: skip
    referral.__dict__.update(
        {f.attname: getattr(locked, f.attname) for f in Referral._meta.concrete_fields}
    )
    return referral


def _store_assessment(result) -> Callable[[Referral], list[str]]:
    def store(locked: Referral) -> list[str]:
        locked.eligibility = result.as_dict()
        locked.eligibility_outcome = result.outcome
        locked.criteria_version = result.criteria_version
        return ["eligibility", "eligibility_outcome", "criteria_version"]

    return store


# --- the referrer -------------------------------------------------------------------------------


def referral_submit(
    *, referral: Referral, by, outside_criteria_reason: str = "", today: date | None = None
) -> Referral:
    """Send a draft to the practice, storing the eligibility result it was assessed with."""
    profile = getattr(by, "referrer_profile", None)
    if profile is None or not profile.is_approved:
        raise TransitionNotAllowed(
            "Your account is waiting for the practice to approve it; you can submit once it is."
        )
    missing = referral_missing_for_submit(referral)
    if missing:
        raise SubmissionIncomplete([(field, message) for _s, field, message in missing])
    try:
        result = referral_assess(referral, today=today)
    except FactsError as exc:
        raise SubmissionIncomplete(fact_problems(exc)) from exc
    reason = outside_criteria_reason.strip()
    if result.outcome != "eligible" and not reason:
        raise SubmissionIncomplete(
            [
                (
                    "outside_criteria_reason",
                    "This referral does not meet every criterion: say briefly why you are "
                    "referring; the interventional radiologist will decide.",
                )
            ]
        )
    duplicates = list(possible_duplicates(referral).values_list("pk", flat=True))
    store_assessment = _store_assessment(result)

    def store(locked: Referral) -> list[str]:
        locked.outside_criteria_reason = reason if result.outcome != "eligible" else ""
        locked.submitted_at = timezone.now()
        locked.possible_duplicate = bool(duplicates)
        return [
            *store_assessment(locked),
            "outside_criteria_reason",
            "submitted_at",
            "possible_duplicate",
        ]

    with transaction.atomic():
        referral_transition(
            referral=referral, to=S.SUBMITTED, by=by, expected_from=S.DRAFT, update=store
        )
        packet_queue(referral=referral, reason="Submitted")
        if duplicates:
            # The queue flags both referrals of a likely duplicate pair.
            Referral.objects.filter(pk__in=duplicates).update(possible_duplicate=True)
        notify(referral=referral, event="submitted", actor=by)
    return referral


def referral_withdraw(*, referral: Referral, by, reason: str = "") -> Referral:
    return referral_transition(referral=referral, to=S.WITHDRAWN, by=by, note=reason.strip())


def referral_answer_info_request(*, referral: Referral, by, answer: str) -> Referral:
    """The referrer's answer (the items answered one by one, new documents, a note) returns the
    referral to where it was asked from, and goes back to whoever asked."""
    request = referral_open_info_request(referral)
    answer = answer.strip()
    if request is None:
        raise TransitionNotAllowed("There is no open request for information to answer.")
    added_since = referral.attachments.filter(uploaded_at__gte=request.requested_at).exists()
    items_answered = any(item.get("answered_at") for item in request.items)
    if not (answer or added_since or items_answered):
        raise TransitionNotAllowed("Answer an item, add a document or write a note before sending.")
    try:
        # The doctor may have changed the facts while answering: store what it is sent with.
        store = _store_assessment(referral_assess(referral))
    except FactsError:
        store = None  # the answer is not held up: the practice sees the facts to correct
    now = timezone.now()

    def record(locked: Referral) -> list[str]:
        locked.answered_at = now
        return ["answered_at", *(store(locked) if store else [])]

    to_ir = request.requested_by_id == referral.assigned_radiologist_id
    with transaction.atomic():
        referral_transition(
            referral=referral,
            to=request.return_to or S.SUBMITTED,
            by=by,
            note=answer,
            expected_from=S.INFO_REQUESTED,
            update=record,
        )
        InfoRequest.objects.filter(pk=request.pk).update(answer=answer, answered_at=now)
        packet_queue(referral=referral, reason="The referrer answered a request for information")
        notify(referral=referral, event="answered_to_ir" if to_ir else "answered", actor=by)
    return referral


def answer_reviewed(*, referral: Referral, by) -> None:
    """Staff mark an answer reviewed without a transition (it returned to approved or booked)."""
    Referral.objects.filter(pk=referral.pk).update(answered_at=None, updated_at=timezone.now())
    audit_record(action="referral_changed", referral=referral, actor=by, detail="answer reviewed")


def info_item_answer(*, referral: Referral, by, index: int, form) -> InfoRequest:
    """The referrer answers one criterion of the open request with its facts (`form`, a
    validated form of just those fields): saved, and the referral assessed again."""
    request = referral_open_info_request(referral)
    if request is None or referral.referrer_id != by.pk:
        raise TransitionNotAllowed("There is no open request for information to answer.")
    if not (0 <= index < len(request.items)) or request.items[index]["kind"] != "criterion":
        raise TransitionNotAllowed("That item is not part of the request.")
    with transaction.atomic():
        Referral.objects.select_for_update().get(pk=referral.pk)
        form.save(commit=False)
        fields = [*form.fields, "updated_at"]
        try:
            fields += _store_assessment(referral_assess(referral))(referral)
        except FactsError:
            pass  # a fact the checker refuses: the panel names it, the answer is still saved
        referral.save(update_fields=fields)
        items = [dict(item) for item in request.items]
        items[index]["answered_at"] = timezone.now().isoformat()
        InfoRequest.objects.filter(pk=request.pk).update(items=items)
        audit_record(action="referral_changed", referral=referral, actor=by,
                     detail=f"answered: {items[index]['label']}")  # fmt: skip
    request.items = items
    return request


# --- the practice ---------------------------------------------------------------------------------


def referral_request_info(
    *, referral: Referral, by, items: list[dict], note: str = "", expected_from: str | None = None
) -> InfoRequest:
    """Ask the referrer for specific missing items (an admin on a new referral, or the assigned
    IR), and tell them."""
    if not items and not note.strip():
        raise TransitionNotAllowed("Tick what is missing or write a note.")
    with transaction.atomic():
        referral_transition(
            referral=referral,
            to=S.INFO_REQUESTED,
            by=by,
            note=note.strip(),
            expected_from=expected_from,
        )
        # Where it was asked from, read under the transition's lock: where the answer returns it.
        asked_from = referral.events.order_by("-at", "-id").values_list("from_status", flat=True)[0]
        request = InfoRequest.objects.create(
            referral=referral, requested_by=by, items=items, note=note.strip(),
            return_to=asked_from,
        )  # fmt: skip
        notify(referral=referral, event="info_requested", actor=by)
    return request


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
        notify(referral=referral, event="accepted", actor=by)
    return referral


def referral_reassign(
    *, referral: Referral, by, radiologist, note: str = "", expected_from: str | None = None
) -> Referral:
    """An admin gives an accepted referral to another IR; both IRs are told."""
    if not (radiologist.is_active and has_role(radiologist, RADIOLOGIST)):
        raise TransitionNotAllowed("Choose an interventional radiologist to assign.")
    previous: list[int | None] = []

    def assign(locked: Referral) -> list[str]:
        if locked.assigned_radiologist_id == radiologist.pk:
            raise TransitionNotAllowed("It is already assigned to that radiologist.")
        previous.append(locked.assigned_radiologist_id)
        locked.assigned_radiologist = radiologist
        return ["assigned_radiologist"]

    name = radiologist.get_full_name() or radiologist.email
    with transaction.atomic():
        referral_transition(
            referral=referral, to=S.ACCEPTED, by=by,
            note=f"Reassigned to {name}. {note.strip()}".strip(),
            expected_from=expected_from or S.ACCEPTED, update=assign,
        )  # fmt: skip
        audit_record(action="referral_reassigned", referral=referral, actor=by,
                     detail=f"IR {previous[0]} → {radiologist.pk}")  # fmt: skip
        notify(referral=referral, event="reassigned", actor=by)
        notify(referral=referral, event="unassigned", actor=by,
               previous_radiologist_id=previous[0])  # fmt: skip
    return referral


def referral_undo_accept(
    *, referral: Referral, by, note: str = "", expected_from: str | None = None
) -> Referral:
    """An admin takes an accepted referral back to triage (submitted, no IR); the IR is told."""
    previous: list[int | None] = []

    def unassign(locked: Referral) -> list[str]:
        previous.append(locked.assigned_radiologist_id)
        locked.assigned_radiologist = None
        return ["assigned_radiologist"]

    with transaction.atomic():
        referral_transition(
            referral=referral, to=S.SUBMITTED, by=by,
            note=f"Acceptance undone. {note.strip()}".strip(),
            expected_from=expected_from or S.ACCEPTED, update=unassign,
        )  # fmt: skip
        notify(referral=referral, event="unassigned", actor=by,
               previous_radiologist_id=previous[0])  # fmt: skip
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
        notify(referral=referral, event="declined", actor=by)
    return referral


def referral_approve(
    *, referral: Referral, by, note: str = "", expected_from: str | None = None
) -> Referral:
    """The assigned IR finds the patient suitable; the admins are told, and book."""
    with transaction.atomic():
        referral_transition(
            referral=referral, to=S.APPROVED, by=by, note=note.strip(), expected_from=expected_from
        )
        notify(referral=referral, event="approved", actor=by)
    return referral


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

    instructions = booking_instructions(referral, site)

    def record(locked: Referral) -> list[str]:
        locked.booked_start = start
        locked.booking_site = site
        locked.booking_instructions = instructions
        return ["booked_start", "booking_site", "booking_instructions"]

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
        notify(referral=referral, event="booked", actor=by)
    return referral


def referral_rebook(*, referral: Referral, by, note: str = "", expected_from=None) -> Referral:
    """Back to approved so a new date can be booked; the old booking is cleared."""

    def clear(locked: Referral) -> list[str]:
        locked.booked_start = None
        locked.booking_site = None
        locked.booking_instructions = []
        return ["booked_start", "booking_site", "booking_instructions"]

    return referral_transition(
        referral=referral,
        to=S.APPROVED,
        by=by,
        note=note.strip() or "Booking cancelled, to be rebooked",
        expected_from=expected_from,
        update=clear,
    )


def referral_complete(*, referral: Referral, by, note: str = "", expected_from=None) -> Referral:
    with transaction.atomic():
        referral_transition(
            referral=referral, to=S.COMPLETED, by=by, note=note.strip(), expected_from=expected_from
        )
        notify(referral=referral, event="completed", actor=by)
    return referral


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
        audit_record(action="message_sent", referral=referral, actor=by)
        notify(referral=referral, event="message", actor=by)
    return message
