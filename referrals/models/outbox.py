"""The outbox: work for the worker, written as a row in the transaction that asks for it (a
packet to render, an email to send), so that nothing is lost when the broker is down and
nothing is done twice when a task is delivered twice. referrals/outbox.py is its one mechanism
(publish, claim, finish, retry, sweep); these are its rows."""

import uuid

from django.db import models

from referrals.models.referral import Referral


class OutboxItem(models.Model):
    """What every kind of outbox row records, under the same names.

    A row is queued when written; published (enqueued_at) once its transaction commits, and
    again by the sweeper if the broker never got it: publish_count counts the publishes, and
    resend_at is when the sweeper may publish it again (its backoff doubles each time, so a
    message still waiting behind a backlog is not sent twice). It is claimed by one worker
    (claim: the Celery task id, claimed_at), which beats heartbeat_at while it works; then done
    or failed (finished_at). attempts counts the claims; last_error is why the last attempt did
    not finish, for the staff who read it (never a patient detail).
    """

    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Set by whoever claimed the row; only that claimant may finish it.
    claim = models.UUIDField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # While working: the claimant's last sign of life (OUTBOX_HEARTBEAT_SECONDS apart); a row
    # silent for OUTBOX_STALE_SECONDS has lost its worker and is taken back.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    publish_count = models.PositiveIntegerField(default=0)
    resend_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def work_seconds(self) -> float | None:
        if self.claimed_at and self.finished_at:
            return (self.finished_at - self.claimed_at).total_seconds()
        return None


def packet_path(instance, filename):
    return f"packets/{instance.referral.uuid}/{instance.referral.reference}-v{instance.version}.pdf"


class Packet(OutboxItem):
    """One PDF per referral version, rendered by the worker. Every version is kept."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="packets")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField("why this version", max_length=200, blank=True)
    file = models.FileField(upload_to=packet_path, max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["referral", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["referral", "version"], name="packet_one_per_version")
        ]
        indexes = [
            # The sweeper: WHERE status IN (queued, rendering) AND enqueued_at/claimed_at < ?.
            models.Index(fields=["status", "enqueued_at"], name="packet_sweep_idx"),
        ]

    def __str__(self):
        return f"{self.referral.reference} v{self.version}"

    @property
    def render_seconds(self) -> float | None:
        return self.work_seconds


class Notification(OutboxItem):
    """An email to send, written in the same transaction as the change it reports."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=20)
    recipient = models.EmailField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The sweeper: WHERE status IN (queued, sending) AND enqueued_at/claimed_at < ?.
            models.Index(fields=["status", "enqueued_at"], name="notification_sweep_idx"),
        ]

    def __str__(self):
        return f"{self.event} to {self.recipient}"
