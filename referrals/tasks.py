"""Celery tasks: thin wrappers that load by id and call a service."""

from celery import shared_task
from django.db import DatabaseError, connection

from referrals import services

RETRY_DELAYS = (10, 30, 90, 270, 600)  # seconds: backoff for transient failures


@shared_task(
    bind=True,
    name="referrals.render_packet",
    acks_late=True,
    ignore_result=True,
    max_retries=len(RETRY_DELAYS),
)
def render_packet(self, packet_id: int, claim: str = "") -> None:
    try:
        services.packet_render(packet_id=packet_id, claim=claim)
    except (services.PacketTransientError, DatabaseError) as exc:
        # A lost database connection is not reused by the next attempt.
        connection.close()
        if self.request.retries >= self.max_retries:
            services.packet_give_up(packet_id=packet_id, error=f"Gave up after retries: {exc}")
            return
        claim = getattr(exc, "claim", "") or claim
        raise self.retry(
            exc=exc, countdown=RETRY_DELAYS[self.request.retries], kwargs={"claim": claim}
        ) from exc


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
    from referrals.parts import attachment_prepare

    try:
        attachment_prepare(attachment_id=attachment_id)
    except (DatabaseError, OSError) as exc:
        connection.close()
        raise self.retry(exc=exc, countdown=RETRY_DELAYS[self.request.retries]) from exc


@shared_task(name="referrals.sweep_packets", ignore_result=True)
def sweep_packets() -> dict:
    return services.packets_sweep()


# Celery autodiscovers referrals.tasks only: the email task lives with the notifications.
from referrals.notifications import send_notification, sweep_notifications  # noqa: E402, F401
