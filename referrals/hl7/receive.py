"""One HL7 message in, one ACK out: the code behind `manage.py hl7_receive`, `hl7_listen` and
the watched inbox folder.

- Over HL7_MAX_MESSAGE_BYTES, not HL7, not a REF^I12, not addressed to this practice (PRD|IR,
  PRD-7 in HL7_RECEIVER_IDS): AR. A bad identifier, no PID, no PDF display segment, a document
  the upload checks refuse: AE. Either way with an ERR per problem, and nothing is stored but a
  record of the refusal (sender, control id, digest, the ACK: no patient detail).
- The same message again (MSH-10 from the same sender, same content) changes nothing and gets
  the ACK it got the first time.
- A correction (RF1-1 "C", the same RF1-6 as a referral received before) makes a new version of
  that referral; a second referral with an RF1-6 already received is refused (send a
  correction).
- Otherwise a submitted referral, marked as received by secure message, in the queue with the
  others; the practice's admins are told as for a web referral, and the referrer gets a letter.

Never raises: whatever goes wrong, the sender gets an ACK (AR, "try again later", for our own
failures) and the error is logged without the message's content.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from eligibility.rules import FactsError
from portal.audit import audit_record
from referrals.hl7 import filing, identity
from referrals.hl7.mapping import (
    InboundReferral,
    check_header,
    intended_recipient,
    map_referral,
)
from referrals.hl7.protocol import (
    Problem,
    Refused,
    build_ack,
    decode,
    parse,
    sender_of,
    value,
)
from referrals.intake import referral_assess, referral_next_reference
from referrals.models import InboundMessage, Referral, StatusEvent
from referrals.notifications import notify
from referrals.packets.queue import packet_queue

logger = logging.getLogger(__name__)
S = Referral.Status
M = InboundMessage.Status
STATUS_OF = {"AA": M.ACCEPTED, "AE": M.ERROR, "AR": M.REJECTED}
PATIENT_FIELDS = (
    "patient_given_name", "patient_family_name", "patient_dob", "patient_sex", "medicare_number",
    "medicare_irn", "ihi", "patient_phone", "address_line", "suburb", "state", "postcode",
)  # fmt: skip


@dataclass
class Outcome:
    ack: str
    code: str  # AA, AE or AR
    referral: Referral | None = None
    duplicate: bool = False

    @property
    def accepted(self) -> bool:
        return self.code == "AA"


@dataclass
class Prepared:
    """A message read, mapped and its documents checked, before the database is consulted:
    the part of the work that messages can share out (`prepare` in threads, `commit` in the
    order they came)."""

    raw: bytes
    channel: str
    outcome: Outcome | None = None  # decided already: too large, or not HL7
    message: object = None
    sender: str = ""
    control: str = ""
    digest: str = ""
    refused: Refused | None = None
    inbound: InboundReferral | None = None
    checked: list = field(default_factory=list)


def receive(raw: bytes, *, channel: str = "command") -> Outcome:
    """Process one message (its bytes, unframed) and return the ACK to send. Never raises."""
    return commit(prepare(raw, channel=channel))


def _failed(raw: bytes) -> Outcome:
    logger.exception("An HL7 message could not be processed (%s bytes)", len(raw))
    problem = Problem("MSH", 0, "The practice could not process this message just now; "
                      "please send it again later.", code="207", ack="AR")  # fmt: skip
    try:
        message = parse(raw)
    except Exception:
        message = None
    text = "" if message is not None else decode(raw[:2000])
    return Outcome(build_ack(message, "AR", [problem], raw_text=text), "AR")


def prepare(raw: bytes, *, channel: str) -> Prepared:
    """Everything that needs no database: size, parse, header, addressee, mapping, and each
    document's content check (in the bounded child). Never raises."""
    prepared = Prepared(raw, channel)
    try:
        _prepare(prepared)
    except Exception:
        filing.discard(prepared.checked)
        prepared.checked = []
        prepared.outcome = _failed(raw)
    return prepared


def _prepare(p: Prepared) -> None:
    limit = settings.HL7_MAX_MESSAGE_BYTES
    if len(p.raw) > limit:
        problem = Problem("MSH", 0, f"This message is {len(p.raw):,} bytes; the limit is "
                          f"{limit:,} bytes.", code="207", ack="AR")  # fmt: skip
        p.outcome = Outcome(build_ack(None, "AR", [problem], raw_text=decode(p.raw[:4000])), "AR")
        return
    try:
        p.message = parse(p.raw)
    except Refused as refused:
        text = decode(p.raw[:4000])
        p.outcome = Outcome(build_ack(None, "AR", refused.problems, raw_text=text), "AR")
        return
    p.sender, p.control = sender_of(p.message), value(p.message.segment("MSH"), 10)[:199]
    p.digest = hashlib.sha256(p.raw).hexdigest()
    header_problems = check_header(p.message)
    if header_problems:
        p.refused = Refused(header_problems)
        return
    try:
        recipient = intended_recipient(p.message)
        if recipient and not identity.is_receiver(recipient):
            # Said first and alone: a message meant for someone else is not ours to judge.
            raise Refused([Problem("PRD", 7, "This message is not addressed to this practice: "
                                   "the intended recipient (PRD|IR, PRD-7) is not one of its "
                                   "identifiers.", code="204", ack="AR")])  # fmt: skip
        p.inbound = map_referral(p.message)
        p.checked = filing.check_documents(p.inbound.documents)
    except Refused as refused:
        p.refused = refused


def order_key(p: Prepared) -> str:
    """Messages with the same key must be stored in the order they came: those about the same
    referral (the sender's RF1-6), or the same message again (MSH-10)."""
    if p.inbound is not None and p.inbound.originating_id:
        return f"{p.sender}|RF1|{p.inbound.originating_id}"
    return f"{p.sender}|MSH|{p.control}" if p.control else f"raw|{id(p)}"


def commit(p: Prepared) -> Outcome:
    """The database's part, in the order messages came: the duplicate check, then the refusal
    recorded or the referral stored. Never raises; the checked documents' temporary files are
    gone afterwards."""
    try:
        if p.outcome is not None:
            return p.outcome
        args = (p.message, p.sender, p.control, p.digest, p.raw, p.channel)
        if p.control:
            seen = _seen(p.sender, p.control, p.digest, p.message)
            if seen is not None:
                return seen
        if p.refused is not None:
            return _refuse(p.message, p.refused, *args[1:])
        try:
            return _accept(p.message, p.inbound, p.checked, *args[1:])
        except Refused as refused:
            return _refuse(p.message, refused, *args[1:])
    except Exception:
        return _failed(p.raw)
    finally:
        filing.discard(p.checked)


def _seen(sender: str, control: str, digest: str, message) -> Outcome | None:
    """The ACK already given to this message, or a refusal of a different message reusing its
    control id; None if this is new."""
    row = InboundMessage.objects.filter(sender=sender, control_id=control).first()
    if row is None:
        return None
    if row.sha256 == digest:
        code = {v: k for k, v in STATUS_OF.items()}[row.status]
        return Outcome(row.ack, code, row.referral, duplicate=True)
    problem = Problem("MSH", 10, f"Message control id {control} was already used for a "
                      "different message from this sender.", code="205", ack="AR")  # fmt: skip
    return Outcome(build_ack(message, "AR", [problem]), "AR", duplicate=True)


def _record(**fields) -> InboundMessage | None:
    """Record a message's outcome; None when another process recorded it first."""
    try:
        with transaction.atomic():
            return InboundMessage.objects.create(**fields)
    except IntegrityError:
        return None


def _refuse(message, refused: Refused, sender, control, digest, raw, channel) -> Outcome:
    code = refused.ack_code
    ack = build_ack(message, code, refused.problems)
    if control:
        row = _record(
            sender=sender, control_id=control, message_type=_kind(message), sha256=digest,
            size=len(raw), status=STATUS_OF[code], ack=ack, channel=channel,
            errors=[f"{p.segment}-{p.field}: {p.text}" for p in refused.problems],
        )  # fmt: skip
        if row is None:
            return _seen(sender, control, digest, message) or Outcome(ack, code)
    return Outcome(ack, code)


def _kind(message) -> str:
    header = message.segment("MSH")
    return "^".join(p for p in (value(header, 9, 1), value(header, 9, 2)) if p)[:20]


def _accept(message, inbound: InboundReferral, checked, sender, control, digest, raw, channel):
    ack = build_ack(message, "AA", note="Referral received.")
    earlier = _earlier(sender, inbound.originating_id)
    if earlier is not None and not inbound.correction:
        raise Refused([Problem("RF1", 6, f"This referral was received before (as "
                               f"{earlier.reference}): send changes as a correction (RF1-1 C).",
                               code="205")])  # fmt: skip
    if inbound.correction and earlier is None:
        raise Refused([Problem("RF1", 6, "This correction's referral (RF1-6) was never received "
                               "here: send it as a new referral.", code="204")])  # fmt: skip
    if earlier is not None and not earlier.is_open:
        raise Refused([Problem("RF1", 1, f"{earlier.reference} is closed "
                               f"({earlier.get_status_display().lower()}): send a new referral.",
                               code="207")])  # fmt: skip
    stored = []
    # Outside the transaction: the year's counter row is not held locked while this one runs.
    reference = referral_next_reference() if earlier is None else ""
    try:
        with transaction.atomic():
            # The record first: a second copy of this message arriving at the same moment waits
            # on its unique index, then finds it and answers with this ACK.
            row = InboundMessage.objects.create(
                sender=sender, control_id=control, message_type=_kind(message), sha256=digest,
                size=len(raw), status=M.ACCEPTED, ack=ack, channel=channel,
                originating_id=inbound.originating_id,
            )  # fmt: skip
            record = identity.external_referrer_record(inbound.referrer)
            user = identity.referrer_user(record)
            if earlier is None:
                referral = _create(inbound, record, user, reference)
            else:
                referral = _correct(earlier, inbound, record, user)
            stored = filing.file_documents(
                referral=referral, checked=checked, by=user, new=earlier is None
            )
            InboundMessage.objects.filter(pk=row.pk).update(referral=referral)
            reason = (
                "Received by secure message" if earlier is None else "Corrected by secure message"
            )
            packet_queue(referral=referral, reason=reason, first=earlier is None)
            if earlier is None:
                notify(referral=referral, event="submitted", actor=user)
    except IntegrityError:
        _forget(stored)
        seen = _seen(sender, control, digest, message)
        if seen is None:
            raise
        return seen
    except BaseException:
        _forget(stored)
        raise
    return Outcome(ack, "AA", referral)


def _forget(stored) -> None:
    for attachment in stored:
        attachment.file.storage.delete(attachment.file.name)


def _earlier(sender: str, originating_id: str) -> Referral | None:
    if not originating_id:
        return None
    # The id first (an index lookup that usually finds nothing), the referral only if found.
    referral_id = (
        InboundMessage.objects.filter(
            sender=sender, originating_id=originating_id, referral__isnull=False
        )
        .order_by("received_at", "id")
        .values_list("referral_id", flat=True)
        .first()
    )
    return Referral.objects.get(pk=referral_id) if referral_id else None


def _fill(referral: Referral, inbound: InboundReferral) -> list[str]:
    changed = []
    for name in PATIENT_FIELDS:
        new = inbound.patient.get(name)
        if new not in (None, "") and getattr(referral, name) != new:
            setattr(referral, name, new)
            changed.append(name)
    for name, text in inbound.atomic.items():
        if text and getattr(referral, name) != text:
            setattr(referral, name, text)
            changed.append(name)
    for name, new in (("priority", inbound.priority), ("referral_reason", inbound.reason)):
        if new and getattr(referral, name) != new:
            setattr(referral, name, new)
            changed.append(name)
    return changed


def _assess(referral: Referral, *, studies=None) -> None:
    try:
        result = referral_assess(referral, studies=studies)
    except FactsError:
        referral.eligibility, referral.eligibility_outcome = None, "incomplete"
        return
    referral.eligibility = result.as_dict()
    referral.eligibility_outcome = result.outcome
    referral.criteria_version = result.criteria_version


def _create(inbound: InboundReferral, record, user, reference: str) -> Referral:
    referral = Referral(
        referrer=user, reference=reference, source=Referral.Source.HL7, external_referrer=record,
        status=S.SUBMITTED, submitted_at=timezone.now(),
        patient_consent=True,  # the referring doctor's software sends it with their consent
    )  # fmt: skip
    _fill(referral, inbound)
    _assess(referral, studies=[])  # a message's referral has no imaging rows (yet)
    referral.save(force_insert=True)
    StatusEvent.objects.bulk_create([
        StatusEvent(referral=referral, from_status="", to_status=S.DRAFT, by=user),
        StatusEvent(referral=referral, from_status=S.DRAFT, to_status=S.SUBMITTED, by=user,
                    note="Received by secure message"),
    ])  # fmt: skip
    audit_record(action="referral_transition", referral=referral, actor=user,
                 detail="draft → submitted (secure message)")  # fmt: skip
    return referral


def _correct(earlier: Referral, inbound: InboundReferral, record, user) -> Referral:
    referral = Referral.objects.select_for_update().get(pk=earlier.pk)
    changed = _fill(referral, inbound)
    referral.external_referrer = record
    _assess(referral)
    referral.save()
    detail = "corrected by secure message: " + (", ".join(changed) or "documents")
    audit_record(action="referral_changed", referral=referral, actor=user, detail=detail)
    return referral
