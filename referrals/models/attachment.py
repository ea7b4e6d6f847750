"""A document sent with a referral, and its packet part (the pages every packet appends)."""

import uuid

from django.conf import settings
from django.db import models

from referrals.models.referral import Referral


def attachment_path(instance, filename):
    # A random name: the original name is kept (sanitised) on the row, never in the path.
    return f"attachments/{instance.referral.uuid}/{uuid.uuid4().hex}{instance.extension}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        CLINICAL_NOTES = "clinical_notes", "Clinical notes"
        IMAGING_REPORT = "imaging_report", "Imaging report"
        IMAGING = "imaging", "Imaging (images)"
        PATHOLOGY = "pathology", "Pathology"
        CONSULTATIONS = "consultations", "Consultation records"
        SURGICAL_HISTORY = "surgical_history", "Surgical history"
        OTHER = "other", "Other"

    # What the practice's referral page asks for (the checklist); "imaging" is met by either an
    # imaging report or the images themselves.
    CHECKLIST = (
        ("clinical_notes", "Clinical notes", (Kind.CLINICAL_NOTES,)),
        ("imaging", "Relevant imaging", (Kind.IMAGING_REPORT, Kind.IMAGING)),
        ("pathology", "Recent pathology", (Kind.PATHOLOGY,)),
        ("consultations", "Records of consultation with other doctors", (Kind.CONSULTATIONS,)),
        ("surgical_history", "Surgical history", (Kind.SURGICAL_HISTORY,)),
    )

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(max_length=160)
    content_type = models.CharField(max_length=40)
    extension = models.CharField(max_length=8)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    pages = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    message = models.ForeignKey(
        "Message", on_delete=models.PROTECT, null=True, blank=True, related_name="attachments"
    )
    # Replacing keeps the old file: it points at its replacement and drops out of current lists.
    replaced_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaces"
    )
    # Chosen by the browser for each file it sends (the form's hidden field): the same POST
    # sent twice (a double click, a retry) carries the same token, and stores one document.
    upload_token = models.UUIDField(null=True, blank=True, editable=False)

    class PartStatus(models.TextChoices):
        PENDING = "pending", "Not prepared yet"
        READY = "ready", "Ready"
        LEFT_OUT = "left_out", "Left out of the packet"

    # The packet part: this document made once into the PDF pages every packet version appends
    # as they are (a PDF rewritten and checked, an image or DICOM frame on a page of its own),
    # by the worker soon after upload, or by the first packet that needs it (referrals/parts.py).
    # A document that cannot be included safely is LEFT_OUT, with the reason in part_note.
    part_status = models.CharField(
        max_length=10, choices=PartStatus.choices, default=PartStatus.PENDING
    )
    part = models.FileField(max_length=200, blank=True)
    part_pages = models.PositiveIntegerField(null=True, blank=True)
    part_note = models.CharField(max_length=300, blank=True)
    # What was taken out of a PDF's part because it could act in the IR's viewer, by kind:
    # {"scripts": 3, "embedded_files": 1, ...} (referrals/disarm.py words it for the index).
    part_removed = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["uploaded_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["referral", "upload_token"], name="attachment_one_per_upload_token"
            )
        ]

    def __str__(self):
        return self.original_name
