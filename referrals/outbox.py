"""The one outbox mechanism for everything the worker does once: render a packet, send an email.

A row is written in the transaction that asks for the work (so a rollback asks for nothing);
once that commits, a task carrying the row's id is published (`enqueue`). A worker claims the
row atomically before doing anything (`claim`: an UPDATE that only one caller wins), so a
task delivered twice does the work once; only the claimant may finish it. A transient failure
puts the row back in the queue and the task is retried with backoff (`perform`); the last
retry, or a failure that retrying will not mend, marks it failed with the error for the staff.
The sweeper publishes again what the broker never got and takes back rows whose worker died.

Each kind of row is an `OutboxKind`: its model (a referrals.models.OutboxItem), its task's
name and which of its statuses mean queued, working, done and failed.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


class TransientError(Exception):
    """The work failed for a reason that may pass (the database, the disk, the mail server)."""


TRANSIENT = (TransientError, DatabaseError, OSError, TimeoutError, ConnectionError)


@dataclass(frozen=True)
class OutboxKind:
    model: type
    task: str  # the Celery task that does one row's work, given its id
    queued: str
    working: str
    done: str
    failed: str

    @property
    def name(self) -> str:
        return self.model._meta.model_name


def _now():
    return timezone.now()


def stale_before():
    """A row working since before this has lost its worker (it is past the hard time limit)."""
    return _now() - timedelta(seconds=settings.OUTBOX_STALE_SECONDS)


def enqueue(kind: OutboxKind, pk: int) -> None:
    """Publish the row's task once the caller's transaction commits."""
    transaction.on_commit(partial(publish, kind, pk))


def send_task(name: str, *args) -> bool:
    """Publish a task now, by name; False if the broker cannot take it. A request never waits
    on a broker that is down: no retries here (retry=False), and Redis's connect timeout is
    short (settings)."""
    try:
        current_app.tasks[name].apply_async(args=list(args), retry=False)
    except Exception:  # the broker is down or unreachable
        return False
    return True


def publish(kind: OutboxKind, pk: int) -> bool:
    """Publish the row's task now; False (logged) if the broker cannot take it, and then the
    sweeper publishes it later."""
    if not send_task(kind.task, pk):
        logger.warning("%s %s not queued; the sweeper will retry", kind.name, pk)
        return False
    kind.model.objects.filter(pk=pk, status=kind.queued).update(enqueued_at=_now())
    return True


def claim(kind: OutboxKind, pk: int, *, retaking: str = "") -> uuid.UUID | None:
    """Take the row for this worker: a queued row, one whose worker died (working since before
    `stale_before()`), or our own after a transient error (`retaking` is our earlier token).
    Returns the new token, or None if someone else has it or it is finished."""
    claimable = Q(status=kind.queued) | Q(status=kind.working, claimed_at__lt=stale_before())
    if retaking:
        claimable |= Q(status=kind.working, claim=retaking)
    token = uuid.uuid4()
    won = (
        kind.model.objects.filter(pk=pk)
        .filter(claimable)
        .update(status=kind.working, claim=token, claimed_at=_now(), attempts=F("attempts") + 1)
    )
    return token if won else None


def finish(kind: OutboxKind, pk: int, token, **fields) -> bool:
    """Done, with the work's own fields (a packet's file and digest); only for the claimant."""
    return bool(
        kind.model.objects.filter(pk=pk, claim=token, status=kind.working).update(
            status=kind.done, finished_at=_now(), last_error="", **fields
        )
    )


def fail(kind: OutboxKind, pk: int, error: str, *, token=None) -> None:
    """Failed for good, with the error for the staff (never over a row already done)."""
    rows = kind.model.objects.filter(pk=pk).exclude(status=kind.done)
    if token is not None:
        rows = rows.filter(claim=token)
    rows.update(status=kind.failed, last_error=error[:2000], finished_at=_now())


def release(kind: OutboxKind, pk: int, token, error: str, *, retry_in: int) -> None:
    """Back to the queue after a transient error; the retry is already on its way, so the
    sweeper leaves the row alone until it is due (enqueued_at is when it will arrive)."""
    kind.model.objects.filter(pk=pk, claim=token, status=kind.working).update(
        status=kind.queued,
        last_error=f"Retrying after: {error}"[:2000],
        enqueued_at=_now() + timedelta(seconds=retry_in),
    )


def retry_queued(kind: OutboxKind, pk: int) -> bool:
    """An admin's retry of a failed row: queued again, sent after the caller commits."""
    updated = kind.model.objects.filter(pk=pk, status=kind.failed).update(
        status=kind.queued, last_error="", claim=None, enqueued_at=None
    )
    if updated:
        enqueue(kind, pk)
    return bool(updated)


class Retry(Exception):
    """The work hit a transient error; the row is still claimed with `token`."""

    def __init__(self, token, error: Exception):
        super().__init__(str(error))
        self.token, self.error = token, error


def run(kind: OutboxKind, pk: int, work: Callable, *, retaking: str = "") -> bool:
    """Do one row's work once: claim it, `work(row)`, then finish it with the fields `work`
    returns. False if it was not ours to do (done already, or another worker has it) or failed
    for good (recorded on the row); True when done. Raises Retry for a transient error."""
    token = claim(kind, pk, retaking=retaking)
    if token is None:
        return False
    row = kind.model.objects.get(pk=pk)
    try:
        fields = work(row) or {}
    except TRANSIENT as exc:
        raise Retry(token, exc) from exc
    except Exception as exc:
        logger.exception("%s %s failed", kind.name, pk)
        fail(kind, pk, f"{type(exc).__name__}: {exc}", token=token)
        return False
    try:
        return finish(kind, pk, token, **fields)
    except DatabaseError as exc:  # the work is done, and doing it again is harmless
        raise Retry(token, exc) from exc


def perform(task, kind: OutboxKind, pk: int, work: Callable, *, retaking: str = "") -> None:
    """`run` for a Celery task (`task` is the bound task): a transient error puts the row back
    in the queue and retries the task with backoff; after the last retry the row fails."""
    try:
        run(kind, pk, work, retaking=retaking)
    except Retry as retry:
        _retry_later(task, kind, pk, retry.token, retry.error)


def _retry_later(task, kind: OutboxKind, pk: int, token, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"
    retries, delays = task.request.retries, settings.OUTBOX_RETRY_DELAYS
    if retries >= len(delays):
        try:
            fail(kind, pk, f"Gave up after retries: {error}")
        except DatabaseError:
            logger.error("%s %s: gave up, and could not record it", kind.name, pk)
        return
    delay = delays[retries]
    try:
        release(kind, pk, token, error, retry_in=delay)
    except DatabaseError:
        # The database is what failed: the row still says working, with our token, which the
        # retry may take back at once. A lost connection is not reused by the next attempt.
        connection.close()
    raise task.retry(exc=exc, countdown=delay, kwargs={"retaking": str(token)})


def sweep(kind: OutboxKind) -> dict:
    """Take back rows whose worker died, and publish again what the broker never got (queued,
    and not published within OUTBOX_RESEND_SECONDS)."""
    now = _now()
    reclaimed = kind.model.objects.filter(
        status=kind.working, claimed_at__lt=stale_before()
    ).update(status=kind.queued, enqueued_at=None)
    resend_before = now - timedelta(seconds=settings.OUTBOX_RESEND_SECONDS)
    waiting = list(
        kind.model.objects.filter(status=kind.queued)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=resend_before))
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = sum(publish(kind, pk) for pk in waiting)
    if reclaimed:
        logger.warning("%s: %s taken back from workers that died", kind.name, reclaimed)
    return {"waiting": len(waiting), "sent": sent}
