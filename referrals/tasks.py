"""Every Celery task of the referrals app, thin: each takes an id and calls a plain function
(the outbox runs the work once, retried with backoff; see referrals/outbox.py). The sweeps run
on the "control" queue (CELERY_TASK_ROUTES), so a backlog of renders never delays them; the
worker's signals give a row back to the outbox the moment Celery knows its task will not
finish."""

from billiard.exceptions import Terminated, WorkerLostError
from celery import shared_task, signals
from celery.exceptions import TimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, connection

from referrals import outbox
from referrals.hl7.inbox import inbox_scan
from referrals.hl7.letters import LETTERS, letter_send
from referrals.notifications import EMAILS, notification_send
from referrals.packets.parts import attachment_prepare
from referrals.packets.queue import PACKETS, packet_make
from referrals.uploads import sweep_upload_temp


@shared_task(
    bind=True,
    name="referrals.render_packet",
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # the outbox gives up after OUTBOX_RETRY_DELAYS
)
def render_packet(self, packet_id: int, retaking: str = "") -> None:
    # `retaking` (an earlier claim token) is no longer sent; the task id is the token now.
    outbox.perform(self, PACKETS, packet_id, packet_make)


@shared_task(
    bind=True,
    name="referrals.send_notification",
    # A worker that dies mid-send gets the task again: a rare duplicate email beats a lost one.
    acks_late=True,
    ignore_result=True,
    max_retries=None,
)
def send_notification(self, notification_id: int, retaking: str = "") -> None:
    outbox.perform(self, EMAILS, notification_id, notification_send)


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


@shared_task(name="referrals.sweep_outbox", ignore_result=True)
def sweep_outbox() -> dict:
    return outbox.sweep_all()


@shared_task(name="referrals.sweep_uploads", ignore_result=True)
def sweep_uploads() -> int:
    return sweep_upload_temp()


@shared_task(
    bind=True,
    name="referrals.send_letter",
    # A worker that dies mid-send gets the task again: the receiver sees the same control id.
    acks_late=True,
    ignore_result=True,
    max_retries=None,
)
def send_letter(self, letter_id: int, retaking: str = "") -> None:
    outbox.perform(self, LETTERS, letter_id, letter_send)


@shared_task(name="referrals.hl7_inbox", ignore_result=True)
def hl7_inbox() -> dict:
    """Process the messages waiting in HL7_INBOX_DIR (beat, every HL7_INBOX_SECONDS)."""
    return inbox_scan()


# --- Celery's word that a task will not finish: its row goes back to the outbox at once -------


@signals.task_failure.connect
def _task_failed(sender=None, task_id=None, exception=None, args=None, **_):
    if isinstance(exception, TimeLimitExceeded):  # it would only run out of time again
        outbox.task_lost(sender.name, task_id, args, give_up=True,
                         error="It took longer than the time limit.")  # fmt: skip
    elif isinstance(exception, (WorkerLostError, Terminated)):
        outbox.task_lost(sender.name, task_id, args, error=type(exception).__name__)


@signals.task_revoked.connect
def _task_revoked(sender=None, request=None, terminated=False, **_):
    if request is not None and terminated:
        outbox.task_lost(sender.name, request.id, request.args, error="terminated")


@signals.task_retry.connect
def _task_cancelled(sender=None, request=None, einfo=None, **_):
    # A task's own retry comes with its exception; one without is Celery cancelling it because
    # the broker connection was lost (worker_cancel_long_running_tasks_on_connection_loss).
    # The broker is down, so the sweeper publishes it again once it is back.
    if einfo is None and request is not None and sender is not None:
        outbox.task_lost(sender.name, request.id, request.args, resend=False,
                         error="cancelled: the worker lost the broker")  # fmt: skip


@signals.worker_ready.connect
def _worker_ready(**_):
    outbox.broker_epoch()  # the epoch this worker's broker started, written if missing
