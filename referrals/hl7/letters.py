"""Letters back to the referring doctor's clinical software, for each decision they should hear
of: received, accepted, information needed, declined (with advice for the patient's care),
booked, completed.

Only for referrals that came by secure message (referral.source "hl7"): those are the doctors
whose software takes HL7 letters, addressed by the Medicare provider number they sent (PRD|RP).
A letter is an outbox row (referrals/outbox.py) written with the decision by
referrals/notifications.py's `notify` (one home for "who hears of what"); the worker renders
its PDF with WeasyPrint (the packet's restricted fetcher), builds a REF^I12 carrying it as the
PDF display segment (OBX ED) and writes it to HL7_OUTBOX_DIR for the messaging client, or sends
it by MLLP to HL7_SEND_HOST:HL7_SEND_PORT and records the ACK. Sent once, retried, swept.
"""

from __future__ import annotations

import base64
import os
import re
import socket

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import timezone

from portal.context_processors import practice_identity
from referrals import outbox
from referrals.hl7 import protocol
from referrals.hl7.protocol import Raw, add_segment
from referrals.models import InboundMessage, InfoRequest, Letter, Referral, letter_path
from referrals.packets.pdf import render_html

L = Letter.Status
LETTERS = outbox.register(
    outbox.OutboxKind(
        model=Letter,
        task="referrals.send_letter",
        queued=L.QUEUED,
        working=L.SENDING,
        done=L.SENT,
        failed=L.FAILED,
    )
)
# The notification events a referrer hears of by letter, and each letter's title.
LETTER_EVENTS = {
    "submitted": "Referral received",
    "accepted": "Referral accepted",
    "info_requested": "More information needed",
    "declined": "Referral declined",
    "booked": "Procedure booked",
    "completed": "Procedure completed",
}
# RF1-1 (HL7 table 0283) for each letter: A accepted, P pending, R rejected.
RF1_STATUS = {"declined": ("R", "Rejected"), "submitted": ("P", "Pending")}
ACK_LIMIT = 1024 * 1024


def letter_queue(*, referral: Referral, event: str) -> Letter | None:
    """Write the letter's outbox row in the caller's transaction, sent once it commits; None
    when this referral's doctor does not hear by secure message, or the event has no letter."""
    if event not in LETTER_EVENTS or referral.source != Referral.Source.HL7:
        return None
    doctor = referral.external_referrer
    if doctor is None:
        return None
    row = Letter.objects.create(
        referral=referral, event=event, provider_number=doctor.provider_number
    )
    outbox.enqueue(LETTERS, row.pk)
    return row


def _originating_id(referral: Referral) -> str:
    row = referral.hl7_messages.exclude(originating_id="").order_by("received_at", "id").first()
    return row.originating_id if row else ""


def _their_reference(referral: Referral) -> list[str]:
    """RF1-11: the doctor's own id of the referral (RF1-6 of theirs: id ^ namespace), which the
    portal keeps as one key, "id^namespace"."""
    number, _sep, namespace = _originating_id(referral).partition("^")
    return [number, namespace] if namespace else [number]


def _paragraphs(referral: Referral, event: str) -> tuple[list[str], list[str], str]:
    """The letter's paragraphs, a list of items (asked for), and advice, by event."""
    if event == "submitted":
        return ([
            "Thank you for your referral, which we received by secure message. The practice's "
            "staff will review it against the criteria for vertebroplasty and write again with "
            "the outcome.",
        ], [], "")  # fmt: skip
    if event == "accepted":
        ir = referral.assigned_radiologist
        who = (
            f"Dr {ir.get_full_name()}"
            if ir and ir.get_full_name()
            else "an interventional radiologist"
        )
        return ([f"The referral has been accepted and {who} will review it."], [], "")
    if event == "info_requested":
        request = InfoRequest.objects.filter(referral=referral).order_by("-requested_at").first()
        items = [i.get("label", "") for i in (request.items if request else []) if i.get("label")]
        paragraphs = ["To assess this referral the practice needs more information:"]
        if request and request.note:
            paragraphs.append(request.note)
        paragraphs.append("Please send it by secure message quoting our reference, or through "
                          "the referral portal.")  # fmt: skip
        return paragraphs, items, ""
    if event == "declined":
        reason = referral.get_decline_reason_display() or "See the note below"
        paragraphs = [
            f"The practice is unable to offer vertebroplasty for this referral: {reason}."
        ]
        if referral.decline_note:
            paragraphs.append(referral.decline_note)
        return paragraphs, [], referral.decline_advice
    if event == "booked":
        when = timezone.localtime(referral.booked_start).strftime("%-d %B %Y at %H:%M")
        site = referral.booking_site.name if referral.booking_site else "the hospital"
        return ([f"The procedure is booked for {when} at {site}. The practice will contact the "
                 "patient with instructions."], [], "")  # fmt: skip
    last = referral.events.filter(to_status=Referral.Status.COMPLETED).order_by("-at").first()
    paragraphs = ["The procedure has been completed."]
    if last and last.note:
        paragraphs.append(last.note)
    return paragraphs, [], ""


def letter_html(referral: Referral, event: str) -> str:
    doctor = referral.external_referrer
    practice = practice_identity()
    paragraphs, items, advice = _paragraphs(referral, event)
    name = doctor.name if doctor else ""
    return render_to_string("letters/letter.html", {
        "referral": referral, "referrer": doctor, "title": LETTER_EVENTS[event],
        "practice_name": practice["name"], "practice_contact": practice["contact_line"],
        "today": timezone.localdate(), "doctor_name": f"Dr {name}" if name else "",
        "salutation": f"Dear Dr {doctor.family_name}," if doctor and doctor.family_name
        else "Dear Doctor,",
        "paragraphs": paragraphs, "items": items, "advice": advice,
        "originating_id": _originating_id(referral),
    })  # fmt: skip


def _our_id() -> list[str]:
    ours = settings.HL7_RECEIVER_IDS[0] if settings.HL7_RECEIVER_IDS else ""
    return [ours, "AUSHIC", "NOI"] if re.fullmatch(r"\d{16}", ours) else [ours, "AUSHICPR", "UPIN"]


def letter_message(letter: Letter, referral: Referral, pdf: bytes) -> str:
    """The REF^I12 that carries the letter as its PDF display segment, addressed (PRD|IR) to
    the referrer's Medicare provider number."""
    doctor = referral.external_referrer
    first = InboundMessage.objects.filter(referral=referral).order_by("received_at", "id").first()
    app, _sep, facility = (first.sender if first else "").partition("|")
    message = protocol.new_message()
    protocol.set_header(message, to_application=app, to_facility=facility,
                        kind="REF^I12^REF_I12", control_id=letter.control_id)  # fmt: skip
    status = RF1_STATUS.get(letter.event, ("A", "Accepted"))
    now = protocol.timestamp()
    add_segment(message, "RF1", {
        1: [status[0], status[1], "HL70283"], 2: ["R", "Routine", "HL70280"],
        3: ["RPC", "Referral", "HL70281"], 6: [referral.reference, settings.HL7_FACILITY],
        7: Raw(now[:8]), 10: ["", LETTER_EVENTS[letter.event]], 11: _their_reference(referral),
    })  # fmt: skip
    add_segment(message, "PRD", {
        1: ["RP", "Referring Provider", "HL70286"], 2: [practice_identity()["name"]],
        4: ["", "", "", practice_identity()["name"]], 7: _our_id(),
    })  # fmt: skip
    add_segment(message, "PRD", {
        1: ["IR", "Intended Recipient", "HL70286"],
        2: [doctor.family_name, doctor.given_name, "", "", "Dr"] if doctor else [""],
        3: [doctor.address] if doctor and doctor.address else [""],
        4: ["", "", "", doctor.practice if doctor else ""],
        7: [letter.provider_number, "AUSHICPR", "UPIN"],
    })  # fmt: skip
    identifiers = []
    if referral.ihi:
        identifiers.append([referral.ihi, "", "", "AUSHIC", "NI"])
    if referral.medicare_number:
        card = referral.medicare_number + (str(referral.medicare_irn or ""))
        identifiers.append([card, "", "", "AUSHIC", "MC"])
    sex = {"female": "F", "male": "M", "other": "O", "not_stated": "U"}.get(
        referral.patient_sex, "U"
    )
    add_segment(message, "PID", {
        1: "1", 3: identifiers or [[referral.reference, "", "", settings.HL7_FACILITY, "MR"]],
        5: [referral.patient_family_name, referral.patient_given_name, "", "", "", "", "L"],
        7: Raw(referral.patient_dob.strftime("%Y%m%d") if referral.patient_dob else ""),
        8: sex,
    })  # fmt: skip
    add_segment(message, "OBR", {
        1: "1", 3: [f"{referral.reference}-{letter.uuid.hex[:8]}", settings.HL7_FACILITY],
        4: ["11488-4", "Consult note", "LN"], 7: Raw(now), 22: Raw(now), 25: "F",
    })  # fmt: skip
    add_segment(message, "OBX", {
        1: "1", 2: "ED", 3: ["PDF", "Display format in PDF", "AUSPDI"],
        5: ["", "application", "pdf", "Base64", Raw(base64.b64encode(pdf).decode("ascii"))],
        11: "F", 14: Raw(now),
    })  # fmt: skip
    return protocol.to_text(message)


def _deliver(letter: Letter, referral: Referral, text: str) -> dict:
    if settings.HL7_SEND_HOST:
        with socket.create_connection(
            (settings.HL7_SEND_HOST, settings.HL7_SEND_PORT), timeout=settings.HL7_SEND_TIMEOUT
        ) as sock:
            sock.sendall(protocol.frame(text))
            data = b""
            while not data.endswith(protocol.END) and len(data) < ACK_LIMIT:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        if not data.endswith(protocol.END):
            raise ConnectionError("the receiver closed the connection without an ACK")
        start = data.find(protocol.SB)
        ack = protocol.read_ack(data[start + 1 : -len(protocol.END)])
        code = ack.code if ack.code in ("AA", "AE", "AR", "CA", "CE", "CR") else "AE"
        code = {"CA": "AA", "CE": "AE", "CR": "AR"}.get(code, code)
        summary = " ".join(p for p in (ack.text, *ack.errors) if p)[:2000]
        return {"ack_status": code, "ack_text": summary}
    folder = settings.HL7_OUTBOX_DIR
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{referral.reference}-{letter.control_id}.hl7"
    partial = final.with_name(final.name + ".part")  # the client ignores it until renamed
    with open(partial, "wb") as handle:
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, final)
    return {"ack_status": Letter.Ack.WRITTEN, "ack_text": final.name}


def letter_send(row: Letter) -> dict:
    """Render, build and deliver one letter (the worker's part). A receiver that is down
    raises OSError, which the outbox retries; the same control id goes with every attempt, so a
    receiver that got an earlier one sees a duplicate."""
    referral = Referral.objects.select_related(
        "external_referrer", "assigned_radiologist", "booking_site"
    ).get(pk=row.referral_id)
    if not row.control_id:
        row.control_id = f"VPL{row.uuid.hex[:17].upper()}"
        Letter.objects.filter(pk=row.pk).update(control_id=row.control_id)
    pdf = render_html(letter_html(referral, row.event))
    name = letter_path(row, "letter.pdf")
    storage = row.file.storage
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, ContentFile(pdf))
    fields = _deliver(row, referral, letter_message(row, referral, pdf))
    return {**fields, "file": saved, "sent_at": timezone.now()}
