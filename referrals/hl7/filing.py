"""A message's documents (OBX ED) filed as the referral's attachments, through the same content
checks as an upload (referrals/file_checks.py: magic bytes, then a parse in the bounded child)
and the same limits (a document's size and pages, a referral's). Nothing is stored until every
document of the message has passed; a refused one refuses the message.

Stored documents go to the worker for their packet part as uploads do (referrals/attachments.py),
where each PDF is disarmed and rewritten before any packet includes it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.db import transaction

from referrals.attachments import attachment_send_prepare
from referrals.file_checks import (
    DetectedDocument,
    DocumentRejected,
    format_count,
    inspect_document,
    safe_display_name,
)
from referrals.hl7.mapping import Document
from referrals.hl7.protocol import Problem, Refused
from referrals.models import Attachment, Referral


@dataclass
class Checked:
    document: Document
    detected: DetectedDocument
    path: str


def check_documents(documents: list[Document]) -> list[Checked]:
    """Write each document to a temporary file and check it; Refused (naming the OBX) on the
    first that fails, with every temporary file removed."""
    checked: list[Checked] = []
    try:
        for document in documents:
            handle, path = tempfile.mkstemp(prefix="hl7-", dir=settings.FILE_UPLOAD_TEMP_DIR)
            with os.fdopen(handle, "wb") as out:
                out.write(document.data)
            try:
                detected = inspect_document(path, max_bytes=settings.DOCUMENT_MAX_BYTES)
            except DocumentRejected as exc:
                os.unlink(path)
                what = "The referral letter" if document.display else f"“{document.name}”"
                raise Refused(
                    [Problem("OBX", 5, f"{what}: {exc.message}", code="102", sequence=document.obx)]
                ) from exc
            expected = document.content_type
            if detected.content_type != expected:
                os.unlink(path)
                raise Refused([Problem("OBX", 5, f"“{document.name}” is labelled {expected} but "
                                       f"is {detected.content_type}.", code="102",
                                       sequence=document.obx)])  # fmt: skip
            checked.append(Checked(document, detected, path))
    except BaseException:
        discard(checked)
        raise
    return checked


def discard(checked: list[Checked]) -> None:
    for item in checked:
        try:
            os.unlink(item.path)
        except FileNotFoundError:
            pass


def _check_totals(
    referral: Referral, checked: list[Checked], replacing: set[int], *, new: bool
) -> None:
    existing = [] if new else list(referral.attachments.all())
    used = sum(a.size for a in existing) + sum(c.detected.size for c in checked)
    if used > settings.REFERRAL_MAX_BYTES:
        limit = settings.REFERRAL_MAX_BYTES // (1024 * 1024)
        raise Refused([Problem("OBX", 5, f"The referral's documents would pass {limit} MB in all.",
                               code="102")])  # fmt: skip
    pages = sum(
        a.pages or 1 for a in existing if a.replaced_by_id is None and a.pk not in replacing
    )
    pages += sum(c.detected.pages or 1 for c in checked)
    if pages > settings.PACKET_MAX_PAGES:
        raise Refused([Problem("OBX", 5, "The referral's documents would pass "
                               f"{format_count(settings.PACKET_MAX_PAGES)} pages in all.",
                               code="102")])  # fmt: skip


def file_documents(
    *, referral: Referral, checked: list[Checked], by, new: bool = False
) -> list[Attachment]:
    """Store the checked documents on the referral, in the caller's transaction; a correction's
    letter replaces the current letter from secure messaging (kept in the history). `new`: the
    referral was made by this message, so it has no documents yet."""
    previous_letter = (
        None
        if new
        else (
            referral.attachments.filter(
                kind=Attachment.Kind.CLINICAL_NOTES,
                replaced_by__isnull=True,
                original_name__startswith="Referral letter",
            )
            .order_by("-uploaded_at", "-id")
            .first()
        )
    )
    replacing = {previous_letter.pk} if previous_letter else set()
    _check_totals(referral, checked, replacing, new=new)
    stored: list[Attachment] = []
    saved_names: list[str] = []
    try:
        for item in checked:
            detected = item.detected
            attachment = Attachment(
                referral=referral,
                kind=item.document.kind,
                original_name=safe_display_name(item.document.name, extension=detected.extension),
                content_type=detected.content_type,
                extension=detected.extension,
                size=detected.size,
                sha256=detected.sha256,
                pages=detected.pages,
                uploaded_by=by,
            )
            with open(item.path, "rb") as handle:
                attachment.file.save("hl7", File(handle), save=False)
            saved_names.append(attachment.file.name)
            attachment.save()
            stored.append(attachment)
        letter = next((a for a, c in zip(stored, checked, strict=True) if c.document.display), None)
        if previous_letter is not None and letter is not None:
            Attachment.objects.filter(pk=previous_letter.pk).update(replaced_by=letter)
    except BaseException:
        storage = Attachment._meta.get_field("file").storage
        for name in saved_names:
            storage.delete(name)
        raise
    finally:
        discard(checked)
    ids = [a.pk for a in stored]
    transaction.on_commit(lambda: [attachment_send_prepare(attachment_id=pk) for pk in ids])
    return stored
