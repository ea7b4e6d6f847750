"""A referral's documents: uploads streamed to disk, then checked (referrals/file_checks.py),
added, replaced, deleted from a draft, and the checklist of what the practice asks for."""

import logging

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.audit import audit_record
from referrals.errors import TransitionNotAllowed
from referrals.file_checks import (
    DocumentRejected,
    format_count,
    inspect_document,
    safe_display_name,
)
from referrals.models import Attachment, Referral
from referrals.outbox import send_task
from referrals.packets.queue import packet_queue

logger = logging.getLogger(__name__)
S = Referral.Status


def referral_can_add_documents(referral: Referral) -> bool:
    return referral.status in (S.DRAFT, S.INFO_REQUESTED)


class AlreadyAttached(DocumentRejected):
    """The same file (by SHA-256) is among the referral's current documents: not stored again."""

    def __init__(self, existing: Attachment):
        super().__init__(f"This file is already attached as “{existing.original_name}”.")
        self.existing = existing


def attachment_add(
    *, referral: Referral, kind: str, uploaded_file, by, message=None, upload_token=None
) -> Attachment:
    """Check the upload's real type from its content, then store it privately.

    Raises DocumentRejected with a message for the doctor; a refused file leaves nothing behind.
    A document can come with a message in the thread of a sent referral, too.

    Idempotent: an `upload_token` already used on this referral for the same file returns the
    document it stored (`.repeated` set), even when two requests race (the database's unique
    constraint picks one); a file whose SHA-256 is already among the referral's current
    documents (outside a message) raises AlreadyAttached instead of storing a copy.
    """
    with_message = message is not None and not referral.is_draft
    if not (referral_can_add_documents(referral) or with_message):
        raise DocumentRejected("Documents can be added only to a draft or when asked for.")
    if kind not in Attachment.Kind.values:
        raise DocumentRejected("Choose what kind of document this is.")
    path = getattr(uploaded_file, "temporary_file_path", lambda: None)()
    if path is None:
        raise DocumentRejected("The upload did not arrive complete; please try again.")
    detected = inspect_document(path, max_bytes=settings.DOCUMENT_MAX_BYTES)
    if upload_token is not None:
        first = referral.attachments.filter(upload_token=upload_token).first()
        if first is not None and first.sha256 == detected.sha256:
            first.repeated = True
            return first
        if first is not None:  # an old page's token sent with another file: a new upload
            upload_token = None
    existing = list(referral.attachments.all())
    if message is None:
        for other in existing:
            if other.replaced_by_id is None and other.sha256 == detected.sha256:
                raise AlreadyAttached(other)
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
        upload_token=upload_token,
    )
    # Given the upload itself, the file system storage moves the temporary file into place (a
    # rename when FILE_UPLOAD_TEMP_DIR is on the media volume) instead of copying it.
    attachment.file.save("upload", uploaded_file, save=False)
    uploaded_file.close()  # its temporary file is gone (moved): nothing is left to delete later
    try:
        with transaction.atomic():
            attachment.save()
            Referral.objects.filter(pk=referral.pk).update(updated_at=timezone.now())
            audit_record(action="referral_changed", referral=referral, actor=by,
                         object_repr=attachment.original_name, detail="document added")  # fmt: skip
            if referral.status not in (S.DRAFT, S.INFO_REQUESTED):
                # A document added after submission (by the practice, say) makes a new version;
                # during a request for information the answer makes it, once.
                packet_queue(referral=referral, reason=f"Document added: {attachment}")
    except IntegrityError:
        attachment.file.delete(save=False)
        first = upload_token and referral.attachments.filter(upload_token=upload_token).first()
        if not first:
            raise
        first.repeated = True  # the same POST, a moment earlier: its document stands
        return first
    except Exception:
        attachment.file.delete(save=False)
        raise
    attachment.repeated = False
    transaction.on_commit(lambda: attachment_send_prepare(attachment_id=attachment.pk))
    return attachment


def attachment_send_prepare(*, attachment_id: int) -> bool:
    """Ask the worker to make the document's packet part now, so that packets need not; False
    (logged) if the broker cannot take it, and then the first packet makes the part."""
    if send_task("referrals.prepare_attachment", attachment_id):
        return True
    logger.warning("part of attachment %s not sent", attachment_id)
    return False


def attachment_delete(*, attachment: Attachment, by) -> None:
    """Only a draft's documents can be deleted; after submission they are kept for the record."""
    if not attachment.referral.is_draft:
        raise TransitionNotAllowed("Documents can be deleted only while the referral is a draft.")
    storage = attachment.file.storage
    names = [f.name for f in (attachment.file, attachment.part) if f.name]
    audit_record(action="referral_changed", referral=attachment.referral, actor=by,
                 object_repr=attachment.original_name,
                 detail="document deleted from the draft")  # fmt: skip
    attachment.delete()
    transaction.on_commit(lambda: [storage.delete(name) for name in names])


def attachment_replace(*, old: Attachment, uploaded_file, by) -> Attachment:
    """A new version of a document; the old one stays in the history, pointing at it."""
    new = attachment_add(referral=old.referral, kind=old.kind, uploaded_file=uploaded_file, by=by)
    Attachment.objects.filter(pk=old.pk).update(replaced_by=new)
    return new


def document_checklist(attachments) -> list[dict]:
    """What the practice asks for, and whether each is present among these attachments."""
    kinds = {a.kind for a in attachments}
    return [
        {"id": item_id, "label": label, "present": any(k in kinds for k in accepted)}
        for item_id, label, accepted in Attachment.CHECKLIST
    ]


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Streams each upload to a temporary file and drops any file over DOCUMENT_MAX_BYTES.

    A dropped file is deleted at once and left out of request.FILES, so the form sees the field
    as missing; request.upload_too_large names the field so the view can say why.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.max_bytes = settings.DOCUMENT_MAX_BYTES
        self.too_large = False

    def new_file(self, *args, **kwargs):
        self.too_large = False
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        if self.too_large:
            return None  # keep swallowing the rest of this file's part
        if start + len(raw_data) > self.max_bytes:
            self.too_large = True
            # Free the disk now rather than after the rest of the body has streamed past.
            self.file.close()  # NamedTemporaryFile: closing deletes it
            if self.request is not None and not getattr(self.request, "upload_too_large", None):
                self.request.upload_too_large = self.field_name
            return None
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        if self.too_large:
            return None
        return super().file_complete(file_size)
