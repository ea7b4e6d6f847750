"""A REF^I12 message as the referral it asks for (HL7AU ADRM, Appendix 8, the simplified REF
profile): PID the patient, PRD|RP the referrer, PRD|IR the intended recipient, RF1 the
referral's status, priority, reason and the sender's own id for it, OBX ED the letter (the PDF
display segment) and, at Level 2, further documents; AL1, DG1 and coded OBX atomic data where
the referral has a field for them.

Identifiers are checked by the same validators as the web form (portal/validators.py). Every
problem found is collected, each with the segment and field at fault, and raised together as
`Refused` so the ACK names them all.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from portal.validators import (
    normalise_medicare_number,
    normalise_provider_number,
    validate_ihi,
    validate_medicare_irn,
    validate_medicare_number,
    validate_provider_number,
)
from referrals.hl7.protocol import Problem, Refused, hl7_date, repetitions, segments, value
from referrals.models import Attachment, Referral

MESSAGE_TYPES = {("REF", "I12")}
SEX = {
    "F": "female",
    "M": "male",
    "O": "other",
    "A": "other",
    "X": "other",
    "U": "not_stated",
    "N": "not_stated",
}
PRIORITY = {"S": "urgent", "A": "as soon as possible", "R": "routine"}
# RF1-1 referral status: C is the Australian profile's correction (section 7.6).
CORRECTION = "C"
# OBX-3 LOINC codes of atomic data the referral has a field for.
ATOMIC_FIELDS = {
    "10160-0": "current_analgesia",  # history of medication use
    "48765-2": "allergies",  # allergies and adverse reactions
    "11348-0": "history",  # history of past illness
    "10164-2": "history",  # history of present illness
    "11329-0": "history",  # history general
}
# What a further document is by its OBX-5 type and subtype (ED: ^type^subtype^Base64^data).
DOCUMENT_TYPES = {
    "PDF": ("application/pdf", Attachment.Kind.OTHER),
    "JPEG": ("image/jpeg", Attachment.Kind.IMAGING),
    "JPG": ("image/jpeg", Attachment.Kind.IMAGING),
    "PNG": ("image/png", Attachment.Kind.IMAGING),
    "DICOM": ("application/dicom", Attachment.Kind.IMAGING),
}
KIND_WORDS = (
    ("pathology", Attachment.Kind.PATHOLOGY),
    ("report", Attachment.Kind.IMAGING_REPORT),
    ("consult", Attachment.Kind.CONSULTATIONS),
    ("surg", Attachment.Kind.SURGICAL_HISTORY),
    ("note", Attachment.Kind.CLINICAL_NOTES),
)


@dataclass
class Document:
    kind: str
    content_type: str
    data: bytes
    name: str
    obx: int  # the OBX's place among the message's OBX segments, 1-based, for ERR
    display: bool = False


@dataclass
class InboundReferral:
    patient: dict
    referrer: dict
    recipient: str
    originating_id: str
    correction: bool
    priority: str
    reason: str
    atomic: dict
    documents: list[Document] = field(default_factory=list)

    @property
    def display(self) -> Document:
        return next(d for d in self.documents if d.display)


def _message_type(message) -> tuple[str, str]:
    header = message.segment("MSH")
    return value(header, 9, 1), value(header, 9, 2)


def check_header(message) -> list[Problem]:
    header = message.segment("MSH")
    problems = []
    kind = _message_type(message)
    if kind not in MESSAGE_TYPES:
        problems.append(
            Problem(
                "MSH",
                9,
                f"This receiver takes REF^I12 referrals, not "
                f"{'^'.join(p for p in kind if p) or 'an untyped message'}.",
                code="200",
                ack="AR",
            )
        )
    version = value(header, 12)
    if version and not version.startswith("2."):
        problems.append(
            Problem(
                "MSH",
                12,
                f"HL7 version {version} is not supported; send 2.4.",
                code="203",
                ack="AR",
            )
        )
    if not value(header, 10):
        problems.append(Problem("MSH", 10, "MSH-10, the message control id, is missing.", ack="AR"))
    return problems


def intended_recipient(message) -> str:
    """PRD-7 of the (first) PRD whose role is IR, the intended recipient; "" if none."""
    for prd in segments(message, "PRD"):
        if any(value(prd, 1, 1, r).upper() == "IR" for r in range(1, repetitions(prd, 1) + 1)):
            return value(prd, 7, 1)
    return ""


def originating_id(message) -> str:
    """RF1-6, the referrer's own identifier of the referral ("" if none): the same in every
    message about that referral, a correction's included."""
    rf1 = segments(message, "RF1")
    if not rf1:
        return ""
    return "^".join(p for p in (value(rf1[0], 6, 1), value(rf1[0], 6, 2)) if p)[:200]


def map_referral(message) -> InboundReferral:
    """The referral a REF^I12 asks for; raises Refused with every problem found."""
    problems: list[Problem] = []
    patient = _patient(message, problems)
    referrer, recipient = _providers(message, problems)
    rf1 = segments(message, "RF1")
    rf1 = rf1[0] if rf1 else None
    originating = originating_id(message)
    documents = _documents(message, problems)
    if problems:
        raise Refused(problems)
    reason = (value(rf1, 10, 2) or value(rf1, 10, 1)) if rf1 else ""
    return InboundReferral(
        patient=patient,
        referrer=referrer,
        recipient=recipient,
        originating_id=originating,
        correction=bool(rf1) and value(rf1, 1, 1).upper() == CORRECTION,
        priority=PRIORITY.get(value(rf1, 2, 1).upper(), "") if rf1 else "",
        reason=reason,
        atomic=_atomic(message),
        documents=documents,
    )


# --- PID ------------------------------------------------------------------------------------------


def _patient(message, problems: list[Problem]) -> dict:
    found = segments(message, "PID")
    if not found:
        problems.append(Problem("PID", 0, "The PID segment (the patient) is missing.", code="100"))
        return {}
    pid = found[0]
    patient: dict = {}
    _identifiers(pid, patient, problems)
    family, given = value(pid, 5, 1), value(pid, 5, 2)
    if not family:
        problems.append(Problem("PID", 5, "PID-5, the patient's family name, is missing."))
    patient["patient_family_name"] = family[:100]
    patient["patient_given_name"] = given[:100]
    dob_text = value(pid, 7)
    dob = hl7_date(dob_text)
    if dob is None:
        problems.append(
            Problem(
                "PID",
                7,
                "PID-7, the patient's date of birth, is missing or not a date (YYYYMMDD).",
                code="102" if dob_text else "101",
            )
        )
    patient["patient_dob"] = dob
    patient["patient_sex"] = SEX.get(value(pid, 8).upper(), "")
    street = " ".join(p for p in (value(pid, 11, 1), value(pid, 11, 2)) if p)
    patient["address_line"] = street[:200]
    patient["suburb"] = value(pid, 11, 3)[:100]
    state = value(pid, 11, 4).upper()
    patient["state"] = state if state in Referral.State.values else ""
    postcode = value(pid, 11, 5)
    patient["postcode"] = postcode if postcode.isdigit() and len(postcode) == 4 else ""
    phone = _phone(pid, 13, 1)
    patient["patient_phone"] = phone[:30]
    return patient


def _identifiers(pid, patient: dict, problems: list[Problem]) -> None:
    """PID-3: the IHI (type NI) and the Medicare card number (type MC, with the IRN as an 11th
    digit or not), each checked as the form checks it; others (MR, DVA) are not kept."""
    for r in range(1, repetitions(pid, 3) + 1):
        number, kind = value(pid, 3, 1, r), value(pid, 3, 5, r).upper()
        if kind == "NI":
            try:
                validate_ihi(number)
            except ValidationError as exc:
                problems.append(
                    Problem("PID", 3, f"PID-3 (IHI, NI): {exc.messages[0]}", code="102")
                )
                continue
            patient["ihi"] = number.replace(" ", "")
        elif kind == "MC":
            digits = normalise_medicare_number(number)
            card, irn = digits[:10], digits[10:]
            try:
                validate_medicare_number(card)
                if len(digits) not in (10, 11):
                    raise ValidationError("Enter the 10-digit Medicare card number.")
                if irn:
                    validate_medicare_irn(int(irn))
            except ValidationError as exc:
                problems.append(
                    Problem("PID", 3, f"PID-3 (Medicare, MC): {exc.messages[0]}", code="102")
                )
                continue
            patient["medicare_number"] = card
            patient["medicare_irn"] = int(irn) if irn else None
    if not any(k in patient for k in ("ihi", "medicare_number")) and not any(
        p.segment == "PID" and p.field == 3 for p in problems
    ):
        problems.append(
            Problem("PID", 3, "PID-3 has neither an IHI (NI) nor a Medicare card number (MC).")
        )


def _phone(segment, field_num: int, r: int) -> str:
    """XTN: the number as written (component 1), else the unformatted number (component 12,
    as senders write it after v2.5), else area code and number (components 6 and 7)."""
    return (
        value(segment, field_num, 1, r)
        or value(segment, field_num, 12, r)
        or "".join(value(segment, field_num, c, r) for c in (6, 7))
    )


# --- PRD ------------------------------------------------------------------------------------------


def _providers(message, problems: list[Problem]) -> tuple[dict, str]:
    referrer: dict = {}
    recipient = ""
    rp_seen = ir_seen = False
    for n, prd in enumerate(segments(message, "PRD"), start=1):
        roles = {value(prd, 1, 1, r).upper() for r in range(1, repetitions(prd, 1) + 1)}
        if "RP" in roles and not rp_seen:
            rp_seen = True
            referrer = _referrer(prd, n, problems)
        if "IR" in roles:
            if ir_seen:
                problems.append(
                    Problem(
                        "PRD",
                        1,
                        "Only one PRD may be the intended recipient (IR).",
                        sequence=n,
                        ack="AR",
                    )
                )
            ir_seen = True
            recipient = value(prd, 7, 1)
            if not recipient:
                problems.append(
                    Problem(
                        "PRD",
                        7,
                        "PRD-7 of the intended recipient (IR) is missing.",
                        sequence=n,
                        ack="AR",
                    )
                )
    if not rp_seen:
        problems.append(
            Problem("PRD", 1, "No PRD segment for the referring provider (RP).", code="100")
        )
    if not ir_seen:
        problems.append(
            Problem(
                "PRD", 1, "No PRD segment for the intended recipient (IR).", code="100", ack="AR"
            )
        )
    return referrer, recipient


def _referrer(prd, n: int, problems: list[Problem]) -> dict:
    number, authority = "", ""
    for r in range(1, repetitions(prd, 7) + 1):
        parts = {value(prd, 7, c, r).upper() for c in (2, 3)}
        if "AUSHICPR" in parts or "UPIN" in parts:
            number, authority = value(prd, 7, 1, r), "AUSHICPR"
            break
    if not authority:
        problems.append(
            Problem(
                "PRD",
                7,
                "PRD-7 of the referring provider needs their Medicare provider number (AUSHICPR).",
                sequence=n,
            )
        )
    else:
        try:
            validate_provider_number(number)
        except ValidationError as exc:
            problems.append(
                Problem(
                    "PRD", 7, f"PRD-7 (provider number): {exc.messages[0]}", code="102", sequence=n
                )
            )
    address = ", ".join(p for p in (value(prd, 3, c) for c in (1, 2, 3, 4, 5)) if p)
    phone = email = ""
    for r in range(1, repetitions(prd, 5) + 1):
        use, text = value(prd, 5, 2, r).upper(), value(prd, 5, 1, r)
        if use == "NET" or "@" in value(prd, 5, 4, r):
            email = email or value(prd, 5, 4, r) or text
        else:
            phone = phone or _phone(prd, 5, r)
    return {
        "provider_number": normalise_provider_number(number),
        "family_name": value(prd, 2, 1),
        "given_name": value(prd, 2, 2),
        "practice": value(prd, 4, 9) or value(prd, 4, 4) or value(prd, 4, 1),
        "address": address,
        "phone": phone,
        "email": email,
    }


# --- OBX ------------------------------------------------------------------------------------------


def _documents(message, problems: list[Problem]) -> list[Document]:
    documents: list[Document] = []
    for n, obx in enumerate(segments(message, "OBX"), start=1):
        if value(obx, 2).upper() != "ED":
            continue
        subtype = value(obx, 5, 3).upper()
        encoding = value(obx, 5, 4).upper()
        if subtype not in DOCUMENT_TYPES:
            continue  # an RTF or HTML rendition beside the PDF: the PDF is the letter
        if encoding != "BASE64":
            problems.append(
                Problem(
                    "OBX", 5, "OBX-5 must carry the document in Base64.", code="102", sequence=n
                )
            )
            continue
        try:
            data = base64.b64decode(value(obx, 5, 5), validate=True)
        except (binascii.Error, ValueError):
            problems.append(Problem("OBX", 5, "OBX-5 is not valid Base64.", code="102", sequence=n))
            continue
        content_type, kind = DOCUMENT_TYPES[subtype]
        label = value(obx, 3, 2) or value(obx, 3, 1)
        display = subtype == "PDF" and not any(d.display for d in documents)
        if display:
            kind = Attachment.Kind.CLINICAL_NOTES
        else:
            lowered = label.lower()
            kind = next((k for word, k in KIND_WORDS if word in lowered), kind)
        name = "Referral letter" if display else (label or "Attachment")
        documents.append(Document(kind, content_type, data, name[:100], n, display))
    if not any(d.display for d in documents):
        problems.append(
            Problem(
                "OBX",
                0,
                "No PDF display segment (an OBX of type ED holding "
                "application/pdf in Base64): the referral letter is missing.",
            )
        )
    return documents


def _atomic(message) -> dict:
    """Atomic data (HL7AU: receivers must accept it; the display segment is the letter)."""
    found: dict[str, list[str]] = {"history": [], "allergies": [], "current_analgesia": []}
    for al1 in segments(message, "AL1"):
        allergen = value(al1, 3, 2) or value(al1, 3, 1)
        reaction = value(al1, 5)
        if allergen:
            found["allergies"].append(f"{allergen} ({reaction})" if reaction else allergen)
    for dg1 in segments(message, "DG1"):
        text = value(dg1, 4) or value(dg1, 3, 2)
        if text:
            found["history"].append(text)
    for obx in segments(message, "OBX"):
        target = ATOMIC_FIELDS.get(value(obx, 3, 1))
        if target and value(obx, 2).upper() in ("ST", "TX", "FT", "CE"):
            texts = [
                value(obx, 5, 2 if value(obx, 2).upper() == "CE" else 1, r)
                for r in range(1, repetitions(obx, 5) + 1)
            ]
            found[target].extend(t for t in texts if t)
    return {k: "\n".join(v) for k, v in found.items() if v}
