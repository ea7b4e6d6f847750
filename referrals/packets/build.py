"""The referral packet: one PDF an IR reads instead of a web page. A plain function of the
referral, testable without Celery; referrals/packets/queue.py runs it for the worker.

Assembly: a WeasyPrint summary, then each document's packet part in upload order, each with a
bookmark (referrals/packets/parts.py made the parts once, when the documents were uploaded; any
still pending is made here), then the reference and "page x of y" stamped on every page,
appended ones included. Only the summary is rendered per version: the rest is pypdf copying.
"""

from contextlib import ExitStack
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format
from pypdf import PdfReader, PdfWriter

from eligibility.labels import outcome_label
from referrals.file_checks import format_count, sha256_file
from referrals.models import Attachment, Referral
from referrals.packets.parts import attachments_prepare
from referrals.packets.pdf import render_html, stamp
from referrals.selectors import current_attachments


def requests_and_answers(referral: Referral, attachments) -> list[dict]:
    """Each request for information the referrer answered: what was asked, by whom, the items
    answered on their own, the note, and the documents added while it was open. One query."""
    out = []
    for request in referral.info_requests.filter(answered_at__isnull=False).select_related(
        "requested_by"
    ):
        added = [
            a for a in attachments if request.requested_at <= a.uploaded_at <= request.answered_at
        ]
        out.append({"request": request, "added": added})
    return out


def packet_context(referral: Referral) -> dict:
    """Everything the summary shows. Queries: imaging, medicines, current attachments, the
    answered requests for information."""
    today = timezone.localdate()
    attachments = list(current_attachments(referral))
    return {
        "referral": referral,
        "referrer": referral.referrer,
        "profile": getattr(referral.referrer, "referrer_profile", None),
        "age": referral.patient_age(today),
        "eligibility": referral.eligibility,
        "outcome_label": outcome_label((referral.eligibility or {}).get("outcome")),
        "outstanding": [
            c
            for c in (referral.eligibility or {}).get("criteria", [])
            if c["kind"] == "workup" and c["status"] != "pass"
        ],
        "imaging": list(referral.imaging.all()),
        "medicines": list(referral.medicines.all()),
        "attachments": attachments,
        "requests": requests_and_answers(referral, attachments),
        "generated_at": timezone.localtime(),
    }


def patient_identity(referral: Referral) -> str:
    """The patient as every page of the packet names them: "Joan Sample · born 9 Mar 1944 ·
    Medicare 2950 12348 1/2"."""
    parts = [referral.patient_name or "Patient not named"]
    if referral.patient_dob:
        parts.append(f"born {date_format(referral.patient_dob, 'j M Y')}")
    if referral.medicare_number:
        number = referral.medicare_number
        irn = f"/{referral.medicare_irn}" if referral.medicare_irn else ""
        parts.append(f"Medicare {number[:4]} {number[4:9]} {number[9:]}{irn}")
    return " \u00b7 ".join(parts)


def build_packet(referral: Referral, output: Path, *, version: int | None = None) -> dict:
    """Render the packet for `referral` to `output`. Returns {"pages", "sha256", "size"}.

    A document that cannot be included (encrypted, broken, hostile) is listed with a note; it
    never fails the packet.
    """
    context = packet_context(referral)
    context["version"] = version
    attachments = context["attachments"]
    attachments_prepare(attachments)  # only those not prepared yet: usually none
    summary = _summary_within_limit(context)
    writer = PdfWriter()
    writer.append(summary, outline_item="Referral summary")
    with ExitStack() as files:
        for attachment in attachments:
            if attachment.part_status != Attachment.PartStatus.READY or attachment.packet_note:
                continue
            part = files.enter_context(attachment.part.open("rb"))
            writer.append(
                PdfReader(part),
                outline_item=f"{attachment.get_kind_display()}: {attachment.original_name}",
            )
        stamp(writer, referral.reference, patient=patient_identity(referral))
        writer.add_metadata(
            {"/Title": f"Referral packet {referral.reference}", "/Producer": "Referral portal"}
        )
        with open(output, "wb") as handle:
            writer.write(handle)
    return {
        "pages": len(writer.pages),
        "sha256": sha256_file(output),
        "size": output.stat().st_size,
        "summary_pages": len(summary.pages),
    }


def _summary_within_limit(context: dict) -> PdfReader:
    """The rendered summary, having left out (with a note, `packet_note`) each document that
    would take the packet past PACKET_MAX_PAGES. Uploads are refused before that, so this is
    a backstop. The summary's length is known only once rendered: when the limit bites, it is
    rendered again with room made for itself."""
    limit = settings.PACKET_MAX_PAGES
    note = f"Left out: the packet would pass {format_count(limit)} pages."
    own_pages = 0
    for _attempt in range(3):
        room = limit - own_pages
        for attachment in context["attachments"]:
            attachment.packet_note = ""
            if attachment.part_status == Attachment.PartStatus.READY:
                if attachment.part_pages > room:
                    attachment.packet_note = note
                else:
                    room -= attachment.part_pages
        html = render_to_string("packets/summary.html", context)
        summary = PdfReader(BytesIO(render_html(html)))
        if len(summary.pages) <= own_pages + room:
            break
        own_pages = len(summary.pages)
    return summary


def packet_summary_pdf(packet) -> bytes:
    """The summary pages of one packet version as it was made (a printable copy of what was
    sent, for the referrer): the pages before the first document's bookmark, without the
    documents appended after them."""
    with packet.file.open("rb") as handle:
        reader = PdfReader(handle)
        top = [item for item in reader.outline if not isinstance(item, list)]
        end = reader.get_destination_page_number(top[1]) if len(top) > 1 else len(reader.pages)
        writer = PdfWriter()
        for number in range(end):
            writer.add_page(reader.pages[number])
        writer.add_metadata(
            {
                "/Title": f"Referral {packet.referral.reference} as sent, version {packet.version}",
                "/Producer": "Referral portal",
            }
        )
        out = BytesIO()
        writer.write(out)
    return out.getvalue()
