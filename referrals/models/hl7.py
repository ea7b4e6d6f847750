"""Referrals that arrive as HL7 v2.4 REF^I12 messages from GPs' clinical software (HL7AU ADRM,
Appendix 8, the simplified REF profile), the doctors who send them, and the letters the practice
sends back the same way (referrals/hl7/)."""

import uuid

from django.conf import settings
from django.db import models

from referrals.models.outbox import OutboxItem
from referrals.models.referral import Referral


class ExternalReferrer(models.Model):
    """A referring doctor known by their Medicare provider number (PRD-7 of the PRD|RP segment),
    whether or not they have an account. A superuser links the record to the doctor's account
    in the Django admin; their referrals then appear under "My referrals"."""

    provider_number = models.CharField("Medicare provider number", max_length=8, unique=True)
    family_name = models.CharField(max_length=100, blank=True)
    given_name = models.CharField(max_length=100, blank=True)
    practice = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=60, blank=True)
    email = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="external_referrers",
        help_text="The doctor's portal account, once they have one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family_name", "given_name", "provider_number"]

    def __str__(self):
        name = " ".join(p for p in (self.given_name, self.family_name) if p)
        return f"{name or 'Unnamed doctor'} ({self.provider_number})"

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)


class InboundMessage(models.Model):
    """One HL7 message received (folder, command or listener) and the ACK it was answered with.

    MSH-10 (the message control id) is unique per sender (MSH-3 application, MSH-4 facility): the
    same message again gets the same ACK and changes nothing. Only a digest of the message is
    kept here; its documents are stored as the referral's attachments.
    """

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        ERROR = "error", "Error"
        REJECTED = "rejected", "Rejected"

    sender = models.CharField(max_length=200)
    control_id = models.CharField("message control id (MSH-10)", max_length=199)
    message_type = models.CharField(max_length=20, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices)
    ack = models.TextField("ACK sent")
    errors = models.JSONField(default=list, blank=True)
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="hl7_messages"
    )
    # RF1-6, the sender's own id of the referral: a correction carries the same one.
    originating_id = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=10, blank=True)  # folder, command, listener
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "control_id"], name="inbound_message_once_per_sender"
            )
        ]
        indexes = [
            # A correction: WHERE originating_id = ? AND referral_id IS NOT NULL.
            models.Index(fields=["originating_id"], name="inbound_originating_idx"),
        ]

    def __str__(self):
        return f"{self.control_id} from {self.sender}"


def letter_path(instance, filename):
    return f"letters/{instance.referral.uuid}/{instance.referral.reference}-{instance.uuid.hex}.pdf"


class Letter(OutboxItem):
    """A letter to the referring doctor for a decision: a PDF inside an outbound REF^I12,
    rendered and sent once by the worker (the outbox; referrals/hl7/letters.py)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    class Ack(models.TextChoices):
        NONE = "", "None yet"
        WRITTEN = "written", "Written to the outbox folder"
        ACCEPTED = "AA", "Accepted"
        ERROR = "AE", "Error"
        REJECTED = "AR", "Rejected"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="letters")
    event = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    provider_number = models.CharField(max_length=8)
    file = models.FileField(upload_to=letter_path, max_length=200, blank=True)
    control_id = models.CharField("message control id (MSH-10)", max_length=40, blank=True)
    ack_status = models.CharField(max_length=8, choices=Ack.choices, blank=True)
    ack_text = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "enqueued_at"], name="letter_sweep_idx")]

    def __str__(self):
        return f"{self.referral.reference}: {self.event} letter"

    @property
    def rejected(self) -> bool:
        return self.ack_status in (self.Ack.ERROR, self.Ack.REJECTED) or (
            self.status == self.Status.FAILED
        )
