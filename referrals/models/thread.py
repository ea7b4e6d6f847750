"""What is recorded along a referral's way: its status events (the timeline), the practice's
requests for information with the referrer's answers, and the messages between them."""

from django.conf import settings
from django.db import models

from referrals.models.referral import Referral


class StatusEvent(models.Model):
    """One row per transition: who, when, from, to, and the note."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=Referral.Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Referral.Status.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.from_status or 'new'} → {self.to_status}"


class InfoRequest(models.Model):
    """A targeted request for more information: the items ticked, a note, and the answer."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="info_requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    # [{"kind": "criterion" | "document", "id": "...", "label": "...",
    #   "answered_at": ISO datetime once the referrer answered that item on its own}]
    items = models.JSONField(default=list)
    note = models.TextField(blank=True)
    # The status the referral was asked from, and returns to once answered (workflow.py).
    return_to = models.CharField(max_length=20, choices=Referral.Status.choices, blank=True)
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]

    def __str__(self):
        return f"Request of {self.requested_at:%Y-%m-%d}"

    @property
    def open(self) -> bool:
        return self.answered_at is None


class Message(models.Model):
    """The thread between the practice's staff and the referrer."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Message of {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def from_practice(self) -> bool:
        return self.author_id != self.referral.referrer_id
