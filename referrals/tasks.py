"""Every Celery task of the referrals app, thin: each takes an id and calls a plain function
(the outbox runs the work once, retried with backoff; see referrals/outbox.py)."""

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection

from referrals import outbox
from referrals.hl7.inbox import inbox_scan
from referrals.hl7.letters import LETTERS, letter_send, letters_sweep
from referrals.notifications import EMAILS, notification_send, notifications_sweep
from referrals.packets.parts import attachment_prepare
from referrals.packets.queue import PACKETS, packet_make, packets_sweep


@shared_task(
    bind=True,
    name="referrals.render_packet",
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # the outbox gives up after OUTBOX_RETRY_DELAYS
)
def render_packet(self, packet_id: int, retaking: str = "") -> None:
    outbox.perform(self, PACKETS, packet_id, packet_make, retaking=retaking)


@shared_task(
    bind=True,
    name="referrals.send_notification",
    # A worker that dies mid-send gets the task again: a rare duplicate email beats a lost one.
    acks_late=True,
    ignore_result=True,
    max_retries=None,
)
def send_notification(self, notification_id: int, retaking: str = "") -> None:
    outbox.perform(self, EMAILS, notification_id, notification_send, retaking=retaking)


@shared_task(
    bind=True,
    name="referrals.prepare_attachment",
    acks_late=True,
    ignore_result=True,
    max_retries=3,
)
def prepare_attachment(self, attachment_id: int) -> None:
    """Make a document's packet part soon after upload. Nothing depends on it finishing: a
    packet prepares whatever is still pending itself."""
    try:
        attachment_prepare(attachment_id=attachment_id)
    except (DatabaseError, OSError) as exc:
        connection.close()
        delays = settings.OUTBOX_RETRY_DELAYS
        raise self.retry(exc=exc, countdown=delays[self.request.retries % len(delays)]) from exc


@shared_task(name="referrals.sweep_packets", ignore_result=True)
def sweep_packets() -> dict:
    return packets_sweep()


@shared_task(name="referrals.sweep_notifications", ignore_result=True)
def sweep_notifications() -> dict:
    return notifications_sweep()


@shared_task(
    bind=True,
    name="referrals.send_letter",
    # A worker that dies mid-send gets the task again: the receiver sees the same control id.
    acks_late=True,
    ignore_result=True,
    max_retries=None,
)
def send_letter(self, letter_id: int, retaking: str = "") -> None:
    outbox.perform(self, LETTERS, letter_id, letter_send, retaking=retaking)


@shared_task(name="referrals.sweep_letters", ignore_result=True)
def sweep_letters() -> dict:
    return letters_sweep()


@shared_task(name="referrals.hl7_inbox", ignore_result=True)
def hl7_inbox() -> dict:
    """Process the messages waiting in HL7_INBOX_DIR (beat, every HL7_INBOX_SECONDS)."""
    return inbox_scan()
