"""Packet parts: each document made once into the PDF pages that every packet version appends.

A referral's packet is rendered again whenever the referral changes, but its documents never
change (a replacement is a new document). So each document is prepared once, soon after it is
uploaded, by the worker (task `referrals.prepare_attachment`), and the part is kept beside it
in the private storage:

- a PDF: disarmed (scripts, actions, embedded files and forms removed, referrals/packets/disarm.py)
  and rewritten by the bounded child (referrals/packets/sandbox.py), every stream checked;
- an image: its pixels re-encoded by the child, then placed on an A4 page by WeasyPrint;
- a DICOM file: its summary and first frame, on an A4 page the same way.

A document that cannot be included safely (locked, broken, a bomb) is left out of the packet
with the reason, which the packet's document index prints. A packet render prepares any
document still pending itself (the broker may have been down at upload, or the task still
queued), so a packet never waits on this task and never misses a document.
"""

import secrets
import tempfile
from pathlib import Path

from django.core.files import File
from django.db import DatabaseError
from django.template.loader import render_to_string

from referrals.models import Attachment
from referrals.packets.pdf import render_document
from referrals.packets.sandbox import prepare_documents
from referrals.packets.schemes import FILE_SCHEME

P = Attachment.PartStatus


def attachments_prepare(attachments: list[Attachment]) -> None:
    """Make the part of each attachment still pending; the instances are updated in place.

    Idempotent and safe to run twice at once: the first to record a part wins, and the other's
    file is deleted. All pending documents are read in one bounded child.
    """
    pending = [a for a in attachments if a.part_status == P.PENDING]
    if not pending:
        return
    with tempfile.TemporaryDirectory(prefix="parts-") as tmp:
        workdir = Path(tmp)
        items = [
            {
                "id": str(a.uuid),
                "path": _local_path(a, workdir),
                "content_type": a.content_type,
                "out": str(workdir / a.uuid.hex),
            }
            for a in pending
        ]
        results = prepare_documents(items)
        for attachment in pending:
            result = results.get(str(attachment.uuid), {"ok": False, "note": "Not prepared."})
            _record(attachment, result, workdir)


def attachment_prepare(*, attachment_id: int) -> None:
    """The task's entry point: prepare one attachment by id, if it still needs it."""
    attachment = (
        Attachment.objects.select_related("referral")
        .filter(pk=attachment_id, part_status=P.PENDING)
        .first()
    )
    if attachment is not None:  # gone (a draft's document deleted), or already prepared
        attachments_prepare([attachment])


def _local_path(attachment: Attachment, workdir: Path) -> str:
    """A copy the child can read, made through the storage API: the worker never assumes the
    document is on its own disk (with object storage it is on none)."""
    copy = workdir / f"{attachment.uuid.hex}.upload"
    with attachment.file.open("rb") as source, open(copy, "wb") as target:
        for chunk in source.chunks():
            target.write(chunk)
    return str(copy)


def _record(attachment: Attachment, result: dict, workdir: Path) -> None:
    if not result.get("ok"):
        _save(attachment, status=P.LEFT_OUT, note=result.get("note", "Not included."))
        return
    if result["kind"] == "pdf":
        pdf, pages = Path(result["pdf"]), result["pages"]
    else:
        pdf = workdir / f"{attachment.uuid.hex}.page.pdf"
        pages = _picture_page(attachment, result, pdf)
    _save(attachment, status=P.READY, pdf=pdf, pages=pages, note=result.get("note", ""),
          removed=_counts(result.get("removed")))  # fmt: skip


def _counts(removed) -> dict[str, int]:
    """The child's counts of what it removed, kept only if they are what they claim to be."""
    if not isinstance(removed, dict):
        return {}
    return {str(k)[:40]: v for k, v in removed.items() if type(v) is int and v > 0}


def _picture_page(attachment: Attachment, result: dict, output: Path) -> int:
    """An image or a DICOM summary on an A4 page; returns the page count."""
    files = {}
    image_url = None
    if result.get("image"):
        # The one file this render may read: the child's re-encoded image, under a name no
        # text in the referral can guess.
        image_url = f"{FILE_SCHEME}{secrets.token_hex(16)}"
        files[image_url] = result["image"]
    html = render_to_string(
        "packets/picture.html",
        {
            "reference": attachment.referral.reference,
            "attachment": attachment,
            "result": result,
            "image_url": image_url,
        },  # fmt: skip
    )
    document = render_document(html, files=files)
    document.write_pdf(output)
    return len(document.pages)


def _save(attachment: Attachment, *, status: str, note: str, pdf: Path | None = None,
          pages: int | None = None, removed: dict | None = None) -> None:  # fmt: skip
    name = ""
    storage = attachment.part.storage
    if pdf is not None:
        stem = Path(attachment.file.name).with_suffix("").as_posix()
        with open(pdf, "rb") as handle:
            name = storage.save(f"{stem}.part.pdf", File(handle))
    fields = {"part": name, "part_status": status, "part_pages": pages, "part_note": note[:300],
              "part_removed": removed or {}}  # fmt: skip
    try:
        won = Attachment.objects.filter(pk=attachment.pk, part_status=P.PENDING).update(**fields)
    except DatabaseError:
        # Stored but not recorded (the connection dropped): the retry stores it again, so this
        # copy would be left behind, referenced by nothing.
        if name:
            storage.delete(name)
        raise
    if not won:  # someone else prepared it meanwhile: theirs stands
        if name:
            storage.delete(name)
        attachment.refresh_from_db(fields=list(fields))
        return
    for field, value in fields.items():
        setattr(attachment, field, value)


# What referrals/disarm.py removes from a PDF, by kind: (singular, plural), in the order the
# document index lists them.
REMOVED_WORDS = {
    "scripts": ("script", "scripts"),
    "launches": ("command to open a file or program", "commands to open files or programs"),
    "links": ("external link", "external links"),
    "form_actions": ("form action", "form actions"),
    "embedded_files": ("embedded file", "embedded files"),
    "media": ("video, sound or 3D object", "video, sound or 3D objects"),
    "xfa": ("XFA form", "XFA forms"),
    "form_fields": ("form field", "form fields"),
    "actions": ("other action", "other actions"),
}


def describe_removed(counts: dict) -> str:
    """What was removed, as a sentence: "Active content removed: 3 scripts and 1 embedded
    file." Empty when nothing was."""
    counts = {kind: n for kind, n in (counts or {}).items() if type(n) is int and n > 0}
    known = [kind for kind in REMOVED_WORDS if kind in counts]
    phrases = []
    for kind in known + sorted(set(counts) - set(known)):
        singular, plural = REMOVED_WORDS.get(kind, (kind.replace("_", " "),) * 2)
        if kind == "actions" and len(counts) == 1:
            singular, plural = "action", "actions"  # "other" only beside something else
        phrases.append(f"{counts[kind]} {singular if counts[kind] == 1 else plural}")
    if not phrases:
        return ""
    listed = " and ".join([", ".join(phrases[:-1]), phrases[-1]] if len(phrases) > 1 else phrases)
    return f"Active content removed: {listed}."
