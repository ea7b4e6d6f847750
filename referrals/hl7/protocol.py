"""HL7 v2 on the wire: MLLP framing, parsing (python-hl7), reading fields, building segments,
and the ACK (MSH, MSA, one ERR per problem; HL7 v2.4 ERR-1 "error code and location").

Segments are parsed by the `hl7` library only; this module splits nothing by hand but MLLP's
frames (bytes around the message) and line endings (a file saved on Windows ends its segments
with CR LF, a Unix one with LF; HL7 wants CR).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import hl7
from django.conf import settings
from django.utils import timezone

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
END = EB + CR
VERSION = "2.4"
# MSH-21, the profile a message conforms to (HL7AU ADRM, Appendix 8).
PROFILE = "HL7AU-OO-REF-SIMPLIFIED-201706"
ERROR_TABLE = "HL70357"
# HL7 table 0357: message error condition codes.
ERROR_TEXT = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "207": "Application internal error",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a message, where it is, and what the sender should do."""

    segment: str
    field: int
    text: str
    code: str = "101"
    sequence: int = 1
    # AE: the message's content is wrong; AR: refused (not ours, not a type we take, too large).
    ack: str = "AE"


class Refused(Exception):
    """The message is refused: every problem found, for the ACK's ERR segments."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.text for p in problems))
        self.problems = problems

    @property
    def ack_code(self) -> str:
        return "AR" if any(p.ack == "AR" for p in self.problems) else "AE"


# --- framing --------------------------------------------------------------------------------------


def frame(message: str | bytes) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return SB + data + END


def unframe(data: bytes) -> list[bytes]:
    """The messages in a file or stream: MLLP frames (<VT> message <FS><CR>) when there are any,
    else the raw text, which may hold several messages (each begins with MSH)."""
    if data.lstrip(b" \t\r\n")[:1] == SB:  # not lstrip(): VT, the start block, is whitespace
        frames = []
        for chunk in data.split(SB)[1:]:
            body, _sep, _rest = chunk.partition(EB)
            if body.strip():
                frames.append(body)
        return frames
    text = normalise(data)
    if not text.strip():
        return []
    return [m.encode("utf-8") for m in hl7.split_file(text)] or [data]


def decode(raw: bytes) -> str:
    """HL7 text as str: UTF-8 (or ASCII), else ISO 8859-1 as MSH-18 8859/1 says."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def normalise(raw: bytes | str) -> str:
    """Segments ended by CR, whatever the file used (CR, LF or CR LF)."""
    text = decode(raw) if isinstance(raw, bytes) else raw
    return re.sub(r"\r\n|\n", "\r", text).strip("\r\n\x00 ") + "\r"


def parse(raw: bytes | str) -> hl7.Message:
    text = normalise(raw)
    if not text.startswith("MSH") or len(text) < 8:
        raise Refused(
            [
                Problem(
                    "MSH",
                    0,
                    "This is not an HL7 message: it must begin with MSH.",
                    code="100",
                    ack="AR",
                )
            ]
        )
    try:
        return hl7.parse(text)
    except Exception as exc:
        raise Refused(
            [Problem("MSH", 0, "The message could not be read as HL7 v2.", code="100", ack="AR")]
        ) from exc


# --- reading --------------------------------------------------------------------------------------


def segments(message: hl7.Message, name: str) -> list:
    try:
        return list(message.segments(name))
    except KeyError:
        return []


def value(segment, field_num: int, component: int = 1, repetition: int = 1, sub: int = 1) -> str:
    """One (unescaped) value of a segment, "" when absent."""
    try:
        found = segment.extract_field(1, field_num, repetition, component, sub)
    except (IndexError, AttributeError, TypeError):
        return ""
    # A formatted text's line breaks (\.br\) unescape to CR; the portal's text uses LF.
    return str(found or "").replace("\r", "\n").strip()


def repetitions(segment, field_num: int) -> int:
    if field_num >= len(segment):
        return 0
    item = segment(field_num)
    return len(item) if isinstance(item, hl7.Field) else 1


def msh(message: hl7.Message):
    return message.segment("MSH")


def sender_of(message: hl7.Message) -> str:
    """MSH-3 (application) and MSH-4 (facility): who sent it, for the duplicate check."""
    header = msh(message)
    parts = [value(header, 3), value(header, 4)]
    return "|".join(parts)[:200]


def hl7_date(text: str):
    """YYYYMMDD[HHMM[SS]][+ZZZZ] as a date, or None."""
    match = re.match(r"^(\d{4})(\d{2})(\d{2})", text or "")
    if not match:
        return None
    try:
        return datetime(*(int(g) for g in match.groups())).date()
    except ValueError:
        return None


# --- building -------------------------------------------------------------------------------------


def new_message() -> hl7.Message:
    """An empty message with the standard encoding characters (|^~\\&)."""
    return hl7.parse("MSH|^~\\&|\r")


def add_segment(message: hl7.Message, name: str, fields: dict[int, object]) -> None:
    """Append a segment. Each field is a str (one value), a list of str (its components) or a
    list of lists (repetitions of components); values are escaped by the library."""
    segment = message.create_segment([message.create_field([name])])
    for number in sorted(fields):
        item = fields[number]
        if isinstance(item, str):
            segment.assign_field(message.escape(item), number)
            continue
        reps = item if item and isinstance(item[0], list | tuple) else [item]
        for r, components in enumerate(reps, start=1):
            for c, part in enumerate(components, start=1):
                segment.assign_field(_raw(message, part), number, r, c)
    message.append(segment)


class Raw(str):
    """A value already in HL7 form (Base64 data, a ready-made TS): not escaped again."""


def _raw(message, part) -> str:
    return str(part) if isinstance(part, Raw) else message.escape(str(part))


def set_header(
    message: hl7.Message, *, to_application: str, to_facility: str, kind: str, control_id: str
) -> None:
    header = msh(message)
    header.assign_field(message.escape(settings.HL7_APPLICATION), 3)
    header.assign_field(message.escape(settings.HL7_FACILITY), 4)
    header.assign_field(message.escape(to_application), 5)
    header.assign_field(message.escape(to_facility), 6)
    header.assign_field(timestamp(), 7)
    for c, part in enumerate(kind.split("^"), start=1):
        header.assign_field(part, 9, 1, c)
    header.assign_field(control_id, 10)
    header.assign_field("P", 11)
    header.assign_field(VERSION, 12)
    header.assign_field("AL", 15)  # accept acknowledgement: always
    header.assign_field("NE", 16)  # application acknowledgement: never
    header.assign_field("AUS", 17)
    header.assign_field("UNICODE UTF-8", 18)
    for c, part in enumerate((PROFILE, "HL7AU", "2.16.840.1.113883.3.2074.1", "ISO"), start=1):
        header.assign_field(part, 21, 1, c)


def timestamp() -> str:
    return timezone.localtime().strftime("%Y%m%d%H%M%S%z")


def control_id() -> str:
    return hl7.generate_message_control_id()


def to_text(message: hl7.Message) -> str:
    return str(message)


# --- acknowledgements -----------------------------------------------------------------------------


def _fallback_header(raw_text: str) -> hl7.Message:
    """A message to answer when the original could not be parsed: only its MSH, if that much
    can be read, else an empty one."""
    first = raw_text.split("\r", 1)[0] if raw_text.startswith("MSH") else ""
    try:
        return hl7.parse(first or "MSH|^~\\&|||||||ACK^I12||P|2.4")
    except Exception:
        return hl7.parse("MSH|^~\\&|||||||ACK^I12||P|2.4")


def build_ack(
    message: hl7.Message | None,
    code: str,
    problems: list[Problem] = (),
    *,
    raw_text: str = "",
    note: str = "",
) -> str:
    """The original-mode ACK: MSH, MSA (code, the message's MSH-10, a text), ERR per problem."""
    source = message if message is not None else _fallback_header(normalise(raw_text or "MSH"))
    ack = source.create_ack(
        ack_code=code,
        message_id=control_id(),
        application=settings.HL7_APPLICATION,
        facility=settings.HL7_FACILITY,
    )
    header = msh(ack)
    header.assign_field(timestamp(), 7)
    if not value(header, 12):
        header.assign_field(VERSION, 12)
    msa = ack.segment("MSA")
    text = problems[0].text if problems else note
    if text:
        msa.assign_field(ack.escape(text[:80]), 3)
    for problem in problems:
        err = ack.create_segment([ack.create_field(["ERR"])])
        location = (problem.segment, str(problem.sequence), str(problem.field))
        for c, part in enumerate(location, start=1):
            err.assign_field(part, 1, 1, c)
        # The fourth component is a CE in sub-components: code & text & table; the text is
        # the sentence for the person who reads the messaging client's error queue.
        err.assign_field(f"{problem.code}&{ack.escape(problem.text)}&{ERROR_TABLE}", 1, 1, 4)
        ack.append(err)
    return str(ack)


@dataclass
class AckSummary:
    code: str
    control_id: str
    text: str = ""
    errors: list[str] = field(default_factory=list)


def read_ack(raw: bytes | str) -> AckSummary:
    """What an ACK that came back says (MSA-1, MSA-2, MSA-3, its ERR locations)."""
    message = parse(raw)
    found = segments(message, "MSA")
    if not found:
        raise Refused([Problem("MSA", 0, "The acknowledgement has no MSA segment.", ack="AR")])
    msa = found[0]
    errors = ["^".join(value(err, 1, c) for c in (1, 2, 3)) for err in segments(message, "ERR")]
    return AckSummary(value(msa, 1), value(msa, 2), value(msa, 3), errors)
