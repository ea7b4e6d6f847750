"""Every write to a referral goes through here (views, admin, tasks and commands call these)."""

import hashlib
import os
from collections.abc import Callable
from datetime import date, timedelta

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from eligibility.rules import FactsError, Result
from eligibility.service import eligibility_assess
from portal.roles import ADMIN, RADIOLOGIST, has_role
from referrals.documents import DocumentRejected, format_count, inspect_document, safe_display_name
from referrals.models import (
    Attachment,
    InfoRequest,
    ReferenceCounter,
    Referral,
    StatusEvent,
)

S = Referral.Status


class TransitionNotAllowed(Exception):
    """A transition this user may not make now; the message says why, plainly."""


class SubmissionIncomplete(Exception):
    """The referral lacks what the practice needs; `problems` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(message for _field, message in problems))


def _audit(referral: Referral | None, action: str, by, **fields) -> None:
    from portal.audit import audit_record

    audit_record(action=action, referral=referral, actor=by, **fields)


def _notify(referral: Referral, event: str, by) -> None:
    from referrals.notifications import notify

    notify(referral=referral, event=event, actor=by)


# --- references ---------------------------------------------------------------------------------


def _next_reference(year: int) -> str:
    """VP-YYYY-NNNNN, sequential per year; safe under concurrency (one UPDATE takes a row lock)."""
    for _attempt in range(3):
        with transaction.atomic():
            updated = ReferenceCounter.objects.filter(year=year).update(last=F("last") + 1)
            if updated:
                number = ReferenceCounter.objects.get(year=year).last
                return f"VP-{year}-{number:05d}"
            try:
                with transaction.atomic():
                    ReferenceCounter.objects.create(year=year, last=1)
                return f"VP-{year}-00001"
            except IntegrityError:
                continue  # another request created the year's row first: increment it instead
    raise RuntimeError("could not allocate a referral reference")


def referral_create(*, referrer) -> Referral:
    with transaction.atomic():
        reference = _next_reference(timezone.localdate().year)
        referral = Referral.objects.create(referrer=referrer, reference=reference)
        StatusEvent.objects.create(
            referral=referral, from_status="", to_status=S.DRAFT, by=referrer, note=""
        )
    return referral


# --- eligibility --------------------------------------------------------------------------------


def referral_facts(referral: Referral) -> dict:
    """The eligibility contract's facts from the referral's saved fields (None = not known)."""
    imaging = [
        {
            "modality": study.modality,
            "performed_on": study.performed_on.isoformat() if study.performed_on else None,
            "acute_fracture": study.acute_fracture,
        }
        for study in referral.imaging.all()
    ]
    facts = {
        "levels": list(referral.levels or []),
        "cause": referral.cause or None,
        "pain_score": referral.pain_score,
        "pain_onset": referral.pain_onset.isoformat() if referral.pain_onset else None,
        "opioid_response": referral.opioid_response or None,
        "imaging": imaging or None,
        "mri_contraindicated": referral.mri_contraindicated,
        "coagulopathy": referral.coagulopathy or None,
        "infection": referral.infection or None,
        "canal_compromise": referral.canal_compromise,
        "neurological_deficit": referral.neurological_deficit,
        "healed_fracture": referral.healed_fracture,
        "coag_profile_on": (
            referral.coag_profile_on.isoformat() if referral.coag_profile_on else None
        ),
        "anticoagulation_reviewed": referral.anticoagulation_reviewed,
    }
    return {key: value for key, value in facts.items() if value is not None}


def referral_assess(referral: Referral, *, today: date | None = None) -> Result | None:
    """The live assessment of a referral's saved facts; None if a saved date is now invalid
    (e.g. a pain onset after the assessment date)."""
    try:
        return eligibility_assess(referral_facts(referral), today=today)
    except FactsError:
        return None


# --- documents ----------------------------------------------------------------------------------


def referral_can_add_documents(referral: Referral) -> bool:
    return referral.status in (S.DRAFT, S.INFO_REQUESTED)


def attachment_add(*, referral: Referral, kind: str, uploaded_file, by, message=None) -> Attachment:
    """Check the upload's real type from its content, then store it privately.

    Raises DocumentRejected with a message for the doctor; a refused file leaves nothing behind.
    A document can come with a message in the thread of a sent referral, too.
    """
    from django.conf import settings

    with_message = message is not None and not referral.is_draft
    if not (referral_can_add_documents(referral) or with_message):
        raise DocumentRejected("Documents can be added only to a draft or when asked for.")
    if kind not in Attachment.Kind.values:
        raise DocumentRejected("Choose what kind of document this is.")
    path = getattr(uploaded_file, "temporary_file_path", lambda: None)()
    if path is None:
        raise DocumentRejected("The upload did not arrive complete; please try again.")
    detected = inspect_document(path, max_bytes=settings.DOCUMENT_MAX_BYTES)
    existing = list(referral.attachments.all())
    used = sum(a.size for a in existing)
    if used + detected.size > settings.REFERRAL_MAX_BYTES:
        limit_mb = settings.REFERRAL_MAX_BYTES // (1024 * 1024)
        raise DocumentRejected(
            f"This referral's documents would pass {limit_mb} MB in all; "
            "send the most relevant ones or ask the practice."
        )
    # Pages of the documents the packet holds (not replaced ones); an image or DICOM is one.
    pages = sum(a.pages or 1 for a in existing if a.replaced_by_id is None)
    if pages + (detected.pages or 1) > settings.PACKET_MAX_PAGES:
        raise DocumentRejected(
            f"This referral's documents would pass {format_count(settings.PACKET_MAX_PAGES)} "
            "pages in all; send the most relevant ones or ask the practice."
        )
    attachment = Attachment(
        referral=referral,
        kind=kind,
        original_name=safe_display_name(uploaded_file.name, extension=detected.extension),
        content_type=detected.content_type,
        extension=detected.extension,
        size=detected.size,
        sha256=detected.sha256,
        pages=detected.pages,
        uploaded_by=by,
        message=message,
    )
    # Given the upload itself, the file system storage moves the temporary file into place (a
    # rename when FILE_UPLOAD_TEMP_DIR is on the media volume) instead of copying it.
    attachment.file.save("upload", uploaded_file, save=False)
    uploaded_file.close()  # its temporary file is gone (moved): nothing is left to delete later
    try:
        with transaction.atomic():
            attachment.save()
            Referral.objects.filter(pk=referral.pk).update(updated_at=timezone.now())
            _audit(referral, "referral_changed", by, object_repr=attachment.original_name,
                   detail="document added")  # fmt: skip
            if referral.status not in (S.DRAFT, S.INFO_REQUESTED):
                # A document added after submission (by the practice, say) makes a new version;
                # during a request for information the answer makes it, once.
                packet_queue(referral=referral, reason=f"Document added: {attachment}")
    except Exception:
        attachment.file.delete(save=False)
        raise
    transaction.on_commit(lambda: attachment_send_prepare(attachment_id=attachment.pk))
    return attachment


def attachment_send_prepare(*, attachment_id: int) -> bool:
    """Ask the worker to make the document's packet part now, so that packets need not; False
    (logged) if the broker cannot take it, and then the first packet makes the part."""
    import logging

    from referrals.tasks import prepare_attachment

    try:
        prepare_attachment.apply_async(args=[attachment_id], retry=False)
    except Exception:  # the broker is down: nothing is lost (see referrals/parts.py)
        logging.getLogger(__name__).warning("part of attachment %s not sent", attachment_id)
        return False
    return True


def attachment_delete(*, attachment: Attachment, by) -> None:
    """Only a draft's documents can be deleted; after submission they are kept for the record."""
    if not attachment.referral.is_draft:
        raise TransitionNotAllowed("Documents can be deleted only while the referral is a draft.")
    storage = attachment.file.storage
    names = [f.name for f in (attachment.file, attachment.part) if f.name]
    _audit(attachment.referral, "referral_changed", by, object_repr=attachment.original_name,
           detail="document deleted from the draft")  # fmt: skip
    attachment.delete()
    transaction.on_commit(lambda: [storage.delete(name) for name in names])


def attachment_replace(*, old: Attachment, uploaded_file, by) -> Attachment:
    """A new version of a document; the old one stays in the history, pointing at it."""
    new = attachment_add(referral=old.referral, kind=old.kind, uploaded_file=uploaded_file, by=by)
    Attachment.objects.filter(pk=old.pk).update(replaced_by=new)
    return new


def referral_current_attachments(referral: Referral):
    return referral.attachments.filter(replaced_by__isnull=True)


def document_checklist(attachments) -> list[dict]:
    """What the practice asks for, and whether each is present among these attachments."""
    kinds = {a.kind for a in attachments}
    return [
        {"id": item_id, "label": label, "present": any(k in kinds for k in accepted)}
        for item_id, label, accepted in Attachment.CHECKLIST
    ]


# --- transitions --------------------------------------------------------------------------------

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
    locked row and returns their names. Returns the locked, updated referral.
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
        if update is not None:
            fields += update(locked)
        locked.save(update_fields=fields)
        StatusEvent.objects.create(
            referral=locked, from_status=from_status, to_status=to, by=by, note=note
        )
        _audit(locked, "referral_transition", by, detail=f"{from_status} → {to}")
    referral.__dict__.update(
        {f.attname: getattr(locked, f.attname) for f in Referral._meta.concrete_fields}
    )
    return referral


# --- submission ---------------------------------------------------------------------------------

# What the practice needs before a referral can be sent (shown in the form with an asterisk).
REQUIRED_TO_SUBMIT = {
    "patient_given_name": ("patient", "the patient's given name"),
    "patient_family_name": ("patient", "the patient's family name"),
    "patient_dob": ("patient", "the patient's date of birth"),
    "patient_sex": ("patient", "the patient's sex"),
    "medicare_number": ("patient", "the Medicare card number"),
    "medicare_irn": ("patient", "the Medicare reference number (IRN)"),
    "patient_phone": ("patient", "the patient's phone number"),
    "address_line": ("patient", "the patient's street address"),
    "suburb": ("patient", "the patient's suburb or town"),
    "state": ("patient", "the patient's state"),
    "postcode": ("patient", "the patient's postcode"),
    "levels": ("clinical", "the fracture level or levels"),
    "cause": ("clinical", "the cause of the fracture"),
    "pain_score": ("clinical", "the pain score"),
    "pain_onset": ("clinical", "the date pain began"),
}


def referral_missing_for_submit(referral: Referral) -> list[tuple[str, str, str]]:
    """(section, field, message) for everything still needed before submitting."""
    missing = [
        (section, field, f"Add {label}.")
        for field, (section, label) in REQUIRED_TO_SUBMIT.items()
        if getattr(referral, field) in (None, "", [])
    ]
    if referral.interpreter_needed and not referral.interpreter_language:
        missing.append(("patient", "interpreter_language", "Say which language to interpret."))
    if not referral.patient_consent:
        missing.append(
            ("patient", "patient_consent", "Confirm the patient consents to this referral.")
        )
    for section in referral.draft_data or {}:
        missing.append((section, "", f"Correct the errors in the {section} section."))
    return missing


def possible_duplicates(referral: Referral):
    """Other open referrals for the same patient in the last 90 days, from any referrer."""
    since = timezone.now() - timedelta(days=90)
    same_patient = Q()
    if referral.medicare_number and referral.medicare_irn:
        same_patient |= Q(
            medicare_number=referral.medicare_number, medicare_irn=referral.medicare_irn
        )
    if referral.patient_family_name and referral.patient_dob:
        same_patient |= Q(
            patient_family_name__iexact=referral.patient_family_name,
            patient_given_name__iexact=referral.patient_given_name,
            patient_dob=referral.patient_dob,
        )
    if not same_patient:
        return Referral.objects.none()
    return (
        Referral.objects.filter(same_patient, status__in=Referral.OPEN_STATUSES)
        .filter(Q(submitted_at__gte=since) | Q(created_at__gte=since))
        .exclude(pk=referral.pk)
    )


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
    result = referral_assess(referral, today=today)
    if result is None:
        raise SubmissionIncomplete([("pain_onset", "Check the dates: one is in the future.")])
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

    def store(locked: Referral) -> list[str]:
        locked.eligibility = result.as_dict()
        locked.eligibility_outcome = result.outcome
        locked.criteria_version = result.criteria_version
        locked.outside_criteria_reason = reason if result.outcome != "eligible" else ""
        locked.submitted_at = timezone.now()
        locked.possible_duplicate = bool(duplicates)
        return [
            "eligibility",
            "eligibility_outcome",
            "criteria_version",
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
        _notify(referral, "submitted", by)
    return referral


def referral_withdraw(*, referral: Referral, by, reason: str = "") -> Referral:
    return referral_transition(referral=referral, to=S.WITHDRAWN, by=by, note=reason.strip())


def referral_request_info(
    *, referral: Referral, by, items: list[dict], note: str = "", expected_from: str | None = None
) -> InfoRequest:
    """Ask the referrer for specific missing items (admin on a new referral, or the assigned IR)."""
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
        return InfoRequest.objects.create(
            referral=referral, requested_by=by, items=items, note=note.strip()
        )


def referral_open_info_request(referral: Referral) -> InfoRequest | None:
    return referral.info_requests.filter(answered_at__isnull=True).last()


def referral_answer_info_request(*, referral: Referral, by, answer: str) -> Referral:
    """The referrer's answer (a message and/or new documents) returns it to the practice."""
    request = referral_open_info_request(referral)
    answer = answer.strip()
    if request is None:
        raise TransitionNotAllowed("There is no open request for information to answer.")
    added_since = referral.attachments.filter(uploaded_at__gte=request.requested_at).exists()
    if not answer and not added_since:
        raise TransitionNotAllowed("Write an answer or add a document before sending.")
    result = referral_assess(referral)

    def reassess(locked: Referral) -> list[str]:
        # The doctor may have changed the facts while answering: store what it is sent with now.
        if result is None:
            return []
        locked.eligibility = result.as_dict()
        locked.eligibility_outcome = result.outcome
        locked.criteria_version = result.criteria_version
        return ["eligibility", "eligibility_outcome", "criteria_version"]

    with transaction.atomic():
        referral_transition(
            referral=referral,
            to=S.SUBMITTED,
            by=by,
            note=answer,
            expected_from=S.INFO_REQUESTED,
            update=reassess,
        )
        InfoRequest.objects.filter(pk=request.pk).update(answer=answer, answered_at=timezone.now())
        packet_queue(referral=referral, reason="The referrer answered a request for information")
        _notify(referral, "answered", by)
    return referral


# --- drafts -------------------------------------------------------------------------------------


def referral_can_edit(referral: Referral) -> bool:
    """The referrer edits a draft, and a referral the practice has asked more about."""
    return referral.status in (S.DRAFT, S.INFO_REQUESTED)


def referral_save_section(*, referral: Referral, section: str, form) -> bool:
    """Save a section's form. Invalid input is kept raw in draft_data so nothing typed is lost.

    Returns True when the section validated and was saved to the referral's fields.
    """
    if not referral_can_edit(referral):
        raise TransitionNotAllowed("This referral can no longer be changed.")
    draft = dict(referral.draft_data or {})
    if form.is_valid():
        with transaction.atomic():
            form.save()
            draft.pop(section, None)
            Referral.objects.filter(pk=referral.pk).update(
                draft_data=draft, updated_at=timezone.now()
            )
            if form.has_changed():
                _audit(referral, "referral_changed", referral.referrer, detail=f"{section} edited")
        referral.draft_data = draft
        return True
    draft[section] = _raw_data(form)
    Referral.objects.filter(pk=referral.pk).update(draft_data=draft, updated_at=timezone.now())
    referral.draft_data = draft
    return False


def _raw_data(form) -> dict[str, list[str]]:
    data = form.data
    return {key: data.getlist(key) for key in data if key != "csrfmiddlewaretoken"}


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- packets ------------------------------------------------------------------------------------


def packet_queue(*, referral: Referral, reason: str):
    """Queue a new packet version, in the caller's transaction; it is sent once that commits.

    The row is the record: if the broker is down when the transaction commits, the packet stays
    queued and the sweeper sends it later. Nothing is lost and the request does not wait.
    """
    from referrals.models import Packet

    with transaction.atomic():
        # Lock the referral so two changes at once get versions n and n+1, not n twice.
        Referral.objects.select_for_update().filter(pk=referral.pk).first()
        last = referral.packets.order_by("-version").values_list("version", flat=True).first()
        packet = Packet.objects.create(referral=referral, version=(last or 0) + 1, reason=reason)
    transaction.on_commit(lambda: packet_send(packet_id=packet.pk))
    return packet


def packet_send(*, packet_id: int) -> bool:
    """Publish the render task; False (logged) if the broker cannot take it now."""
    import logging

    from referrals.models import Packet
    from referrals.tasks import render_packet

    try:
        render_packet.apply_async(args=[packet_id], retry=False)
    except Exception:  # the broker is down or unreachable: the sweeper will send it again
        logging.getLogger(__name__).warning("packet %s not sent; the sweeper will retry", packet_id)
        return False
    Packet.objects.filter(pk=packet_id).update(sent_at=timezone.now())
    return True


def packet_retry(*, packet, by) -> None:
    """An admin's retry of a failed packet: the same version, queued again."""
    from referrals.models import Packet

    updated = Packet.objects.filter(pk=packet.pk, status=Packet.Status.FAILED).update(
        status=Packet.Status.QUEUED, error="", claim=None
    )
    if not updated:
        raise TransitionNotAllowed("Only a failed packet can be retried.")
    transaction.on_commit(lambda: packet_send(packet_id=packet.pk))


def packet_latest(referral: Referral):
    return referral.packets.order_by("-version").first()


class PacketTransientError(Exception):
    """Rendering failed for a reason that may pass (the database, the disk): retry later.

    `claim` lets the retry take the render back at once (the row may still say "rendering",
    if the database was what failed)."""

    def __init__(self, message: str, *, claim: str = ""):
        super().__init__(message)
        self.claim = claim


TRANSIENT_ERRORS = (OSError, TimeoutError, ConnectionError)


def packet_render(*, packet_id: int, claim: str = ""):
    """Claim a queued packet and render it. Idempotent: a packet already made, or being made by
    someone else, is left alone and None is returned.

    A render left "rendering" longer than PACKET_STALE_SECONDS (its worker died) may be claimed
    again; only the current claimant can mark the packet ready.
    """
    import logging
    import time
    import uuid as uuid_module
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from django.conf import settings
    from django.db import DatabaseError

    from referrals.models import Packet, packet_path
    from referrals.packets import build_packet

    P = Packet.Status
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PACKET_STALE_SECONDS)
    token = uuid_module.uuid4()
    claimable = Q(status=P.QUEUED) | Q(status=P.RENDERING, started_at__lt=stale)
    if claim:  # our own earlier attempt, retried after a transient error
        claimable |= Q(status=P.RENDERING, claim=claim)
    claimed = (
        Packet.objects.filter(pk=packet_id)
        .filter(claimable)
        .update(status=P.RENDERING, claim=token, started_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    packet = Packet.objects.select_related(
        "referral__referrer__referrer_profile", "referral__preferred_site"
    ).get(pk=packet_id)
    try:
        if settings.PACKET_RENDER_DELAY_SECONDS:  # fault-injection tests only: a slow render
            time.sleep(settings.PACKET_RENDER_DELAY_SECONDS)
        with TemporaryDirectory(prefix="packet-") as tmp:
            output = Path(tmp) / "packet.pdf"
            info = build_packet(packet.referral, output, version=packet.version)
            name = packet_path(packet, "packet.pdf")
            storage = packet.file.storage
            if storage.exists(name):  # a half-finished earlier attempt: one file per version
                storage.delete(name)
            with open(output, "rb") as handle:
                saved = storage.save(name, File(handle))
    except (DatabaseError, *TRANSIENT_ERRORS) as exc:
        _note_transient(packet_id, token, exc)
        raise PacketTransientError(str(exc), claim=str(token)) from exc
    except Exception as exc:
        logging.getLogger(__name__).exception("packet %s failed", packet_id)
        Packet.objects.filter(pk=packet_id, claim=token).update(
            status=P.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        return None
    try:
        Packet.objects.filter(pk=packet_id, claim=token, status=P.RENDERING).update(
            status=P.READY,
            file=saved,
            sha256=info["sha256"],
            pages=info["pages"],
            size=info["size"],
            error="",
            finished_at=timezone.now(),
        )
        packet.refresh_from_db()
    except DatabaseError as exc:  # the file is saved; the retry renders again and overwrites it
        raise PacketTransientError(str(exc), claim=str(token)) from exc
    return packet


def _note_transient(packet_id, token, exc) -> None:
    """Record why a retry is coming, if the database still answers (it may be what failed)."""
    from django.db import DatabaseError, connection

    from referrals.models import Packet

    try:
        Packet.objects.filter(pk=packet_id, claim=token).update(
            error=f"Retrying after: {type(exc).__name__}: {exc}"[:2000]
        )
    except DatabaseError:
        connection.close()


def packet_give_up(*, packet_id: int, error: str) -> None:
    """After the last retry of a transient error: failed, with the error for the admins."""
    from referrals.models import Packet

    Packet.objects.filter(pk=packet_id).exclude(status=Packet.Status.READY).update(
        status=Packet.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def packets_sweep() -> dict:
    """Re-send packets the broker never got (queued, not sent recently) and reclaim renders
    whose worker died (rendering for longer than PACKET_STALE_SECONDS)."""
    from django.conf import settings

    from referrals.models import Packet

    P = Packet.Status
    now = timezone.now()
    resend_before = now - timedelta(seconds=settings.PACKET_RESEND_SECONDS)
    stale = now - timedelta(seconds=settings.PACKET_STALE_SECONDS)
    Packet.objects.filter(status=P.RENDERING, started_at__lt=stale).update(
        status=P.QUEUED, sent_at=None
    )
    waiting = list(
        Packet.objects.filter(status=P.QUEUED)
        .filter(Q(sent_at__isnull=True) | Q(sent_at__lt=resend_before))
        .values_list("pk", flat=True)[:500]
    )
    sent = sum(packet_send(packet_id=pk) for pk in waiting)
    return {"waiting": len(waiting), "sent": sent}
