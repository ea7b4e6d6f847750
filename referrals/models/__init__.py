"""Referrals and what hangs off them: data and cheap values derived from their own row.
Writes go through the services (referrals/intake.py, attachments.py, workflow.py, outbox.py);
reads across relations through referrals/selectors.py."""

from referrals.models.attachment import Attachment, attachment_path
from referrals.models.hl7 import ExternalReferrer, InboundMessage, Letter, letter_path
from referrals.models.outbox import Notification, OutboxItem, Packet, packet_path
from referrals.models.referral import (
    DeclineReason,
    ImagingStudy,
    Medicine,
    ReferenceCounter,
    Referral,
    Site,
)
from referrals.models.thread import InfoRequest, Message, StatusEvent

__all__ = [
    "Attachment", "DeclineReason", "ExternalReferrer", "ImagingStudy", "InboundMessage",
    "InfoRequest", "Letter", "Medicine", "Message", "Notification", "OutboxItem", "Packet",
    "ReferenceCounter", "Referral", "Site", "StatusEvent", "attachment_path", "letter_path",
    "packet_path",
]  # fmt: skip
