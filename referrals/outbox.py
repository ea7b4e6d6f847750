"""The one outbox mechanism for everything the worker does once: render a packet, send an email.

A row is written in the transaction that asks for the work (so a rollback asks for nothing);
once that commits, a task carrying the row's id is published (`enqueue`). A worker claims the
row atomically before doing anything (`claim`: an UPDATE that only one caller wins; the claim
token is the Celery task id), so a task delivered twice does the work once; only the claimant
may finish it, and while it works a heartbeat thread says so every OUTBOX_HEARTBEAT_SECONDS. A
transient failure puts the row back in the queue and the task is retried with backoff
(`perform`); the last retry, or a failure that retrying will not mend, marks it failed with the
error for the staff.

Recovery (`sweep`, every SWEEP_INTERVAL_SECONDS on the control queue, for every registered
kind): a working row whose heartbeat is older than OUTBOX_STALE_SECONDS lost its worker and is
queued again; a queued row is published again when its backoff is due (resend_at, doubling
from OUTBOX_RESEND_SECONDS per publish, so a message still waiting behind a backlog is not sent
twice), or at once if it was never published, or if the broker lost its data since it was (the
broker epoch, a key kept beside the messages). A task that Celery itself reports terminated,
revoked or lost (`task_lost`, from the worker's signals) gives its row back at once. Past
OUTBOX_MAX_ATTEMPTS claims or publishes a row is failed.

Each kind of row is an `OutboxKind`: its model (a referrals.models.OutboxItem), its task's
name, which of its statuses mean queued, working, done and failed, and which of its fields hold
stored files (deleted again when the row cannot record them). `register` makes it known to the
sweeper and the signals.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

logger = logging.getLogger(__name__)

EPOCH_KEY = "portal:outbox:broker-epoch"


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
    files: tuple[str, ...] = ()  # FileFields the work's result fills

    @property
    def name(self) -> str:
        return self.model._meta.model_name


# Every kind, by its task's name: what the sweeper sweeps and the signals look up.
KINDS: dict[str, OutboxKind] = {}


def register(kind: OutboxKind) -> OutboxKind:
    KINDS[kind.task] = kind
    return kind


def _now():
    return timezone.now()


def stale_before():
    """A working row whose heartbeat is older than this has lost its worker."""
    return _now() - timedelta(seconds=settings.OUTBOX_STALE_SECONDS)


def _stale() -> Q:
    before = stale_before()
    return Q(heartbeat_at__lt=before) | Q(heartbeat_at__isnull=True, claimed_at__lt=before)


def resend_delay(published: int) -> timedelta:
    """How long a row published `published` times before this one waits before the sweeper
    publishes it again: OUTBOX_RESEND_SECONDS, doubled each time, at most
    OUTBOX_RESEND_MAX_SECONDS."""
    seconds = settings.OUTBOX_RESEND_SECONDS * 2 ** min(published, 20)
    return timedelta(seconds=min(seconds, settings.OUTBOX_RESEND_MAX_SECONDS))


def enqueue(kind: OutboxKind, pk: int) -> None:
    """Publish the row's task once the caller's transaction commits."""
    transaction.on_commit(partial(publish, kind, pk))


def send_task(name: str, *args, task_id: str | None = None) -> bool:
    """Publish a task now, by name; False if the broker cannot take it. A request never waits
    on a broker that is down: no retries here (retry=False), and Redis's connect timeout is
    short (settings)."""
    options = {"task_id": task_id} if task_id else {}
    try:
        current_app.tasks[name].apply_async(args=list(args), retry=False, **options)
    except Exception as exc:  # the broker is down or unreachable
        logger.debug("publishing %s failed: %s", name, type(exc).__name__, exc_info=True)
        return False
    return True


def publish(kind: OutboxKind, pk: int, *, published: int = 0) -> bool:
    """Publish the row's task now (`published`: how often it was before); False (logged) if the
    broker cannot take it, and then the sweeper publishes it later."""
    if not send_task(kind.task, pk):
        logger.warning("%s %s not queued; the sweeper will retry", kind.name, pk)
        return False
    now = _now()
    kind.model.objects.filter(pk=pk, status__in=(kind.queued, kind.working)).update(
        enqueued_at=now,
        resend_at=now + resend_delay(published),
        publish_count=F("publish_count") + 1,
    )
    return True


def _token(task_id) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(task_id))
    except ValueError:
        return None


def claim(kind: OutboxKind, pk: int, *, task_id: str | None = None) -> uuid.UUID | None:
    """Take the row for this worker: a queued row, one whose worker died (its heartbeat is
    stale), or one this same task holds already (its own retry, or its message delivered again
    after its worker process was lost). The token is the task id (a new one without a task).
    Returns the token, or None if someone else has it or it is finished."""
    token = (_token(task_id) if task_id else None) or uuid.uuid4()
    claimable = (
        Q(status=kind.queued)
        | Q(status=kind.working) & _stale()
        | Q(status=kind.working, claim=token)
    )
    now = _now()
    won = (
        kind.model.objects.filter(pk=pk)
        .filter(claimable)
        .update(
            status=kind.working,
            claim=token,
            claimed_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
        )  # fmt: skip
    )
    return token if won else None


class Heartbeat:
    """While the work runs, a thread writes heartbeat_at every OUTBOX_HEARTBEAT_SECONDS (on its
    own database connection), so the sweeper can tell a long render from a dead one."""

    def __init__(self, kind: OutboxKind, pk: int, token):
        self.rows = kind.model.objects.filter(pk=pk, claim=token, status=kind.working)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{kind.name}-{pk}")
        self.thread.daemon = True

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=10)

    def _beat(self):
        try:
            while not self.stopped.wait(settings.OUTBOX_HEARTBEAT_SECONDS):
                try:
                    self.rows.update(heartbeat_at=_now())
                except DatabaseError:  # the next beat tries a new connection
                    connection.close()
        finally:
            connection.close()


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
    """Back to the queue after a transient error; the retry is already on its way (published
    now, due in `retry_in`), so the sweeper leaves the row alone until well after then."""
    now = _now()
    kind.model.objects.filter(pk=pk, claim=token, status=kind.working).update(
        status=kind.queued,
        last_error=f"Retrying after: {error}"[:2000],
        enqueued_at=now,
        resend_at=now + timedelta(seconds=retry_in) + resend_delay(0),
    )


def retry_queued(kind: OutboxKind, pk: int) -> bool:
    """An admin's retry of a failed row: queued again, sent after the caller commits."""
    updated = kind.model.objects.filter(pk=pk, status=kind.failed).update(
        status=kind.queued, last_error="", claim=None, enqueued_at=None, resend_at=None,
        publish_count=0, attempts=0,
    )  # fmt: skip
    if updated:
        enqueue(kind, pk)
    return bool(updated)


class Retry(Exception):
    """The work hit a transient error; the row is still claimed with `token`."""

    def __init__(self, token, error: Exception):
        super().__init__(str(error))
        self.token, self.error = token, error


def _discard_files(kind: OutboxKind, pk: int, fields: dict, *, keep_recorded: bool) -> None:
    """Delete the files the work stored that its row does not record (the row could not be
    updated, or another claimant finished first): nothing is left behind unreferenced."""
    names = {fields[f] for f in kind.files if fields.get(f)}
    if keep_recorded and names:
        try:
            row = kind.model.objects.filter(pk=pk).values(*kind.files).first() or {}
        except DatabaseError:
            return  # cannot tell what is recorded: keep the files rather than lose a packet
        names -= set(row.values())
    storage = kind.model._meta.get_field(kind.files[0]).storage if kind.files else None
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("%s %s: could not delete an unrecorded file", kind.name, pk)


def run(kind: OutboxKind, pk: int, work: Callable, *, task_id: str | None = None) -> bool:
    """Do one row's work once: claim it, `work(row)`, then finish it with the fields `work`
    returns. False if it was not ours to do (done already, or another worker has it) or failed
    for good (recorded on the row); True when done. Raises Retry for a transient error."""
    token = claim(kind, pk, task_id=task_id)
    if token is None:
        return False
    row = kind.model.objects.get(pk=pk)
    try:
        with Heartbeat(kind, pk, token):
            fields = work(row) or {}
    except TRANSIENT as exc:
        raise Retry(token, exc) from exc
    except Exception as exc:
        logger.exception("%s %s failed", kind.name, pk)
        fail(kind, pk, f"{type(exc).__name__}: {exc}", token=token)
        return False
    try:
        done = finish(kind, pk, token, **fields)
    except DatabaseError as exc:  # the retry does the work again, into the same names
        _discard_files(kind, pk, fields, keep_recorded=False)
        raise Retry(token, exc) from exc
    if not done:
        _discard_files(kind, pk, fields, keep_recorded=True)
    return done


def perform(task, kind: OutboxKind, pk: int, work: Callable) -> None:
    """`run` for a Celery task (`task` is the bound task): a transient error puts the row back
    in the queue and retries the task with backoff; after the last retry the row fails."""
    try:
        run(kind, pk, work, task_id=task.request.id)
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
        # The database is what failed: the row still says working, with our token (the task
        # id), which the retry takes back. A lost connection is not reused by the next attempt.
        connection.close()
    raise task.retry(exc=exc, countdown=delay)


def task_lost(task_name: str, task_id, args, *, error: str, give_up=False, resend=True) -> None:
    """Celery says this task will not finish (terminated, revoked, its process lost, cancelled
    on a lost broker connection): give its row back to the queue at once and, if `resend`,
    publish it again (or fail it, `give_up`). Called from the worker's signals: never raises."""
    kind = KINDS.get(task_name)
    token = _token(task_id)
    if kind is None or token is None or not args:
        return
    pk = args[0]
    try:
        if give_up:
            fail(kind, pk, error, token=token)
            return
        rows = kind.model.objects.filter(pk=pk, claim=token, status=kind.working)
        published = rows.values_list("publish_count", flat=True).first()
        if published is None:
            return  # not ours any more (done, failed, or someone else's)
        rows.update(status=kind.queued, claim=None, enqueued_at=None, resend_at=None,
                    last_error=f"Taken back: {error}"[:2000])  # fmt: skip
        logger.warning("%s %s taken back from its task: %s", kind.name, pk, error)
        if resend:
            publish(kind, pk, published=published)
    except Exception:
        logger.exception("%s %s: could not take it back from its task", kind.name, pk)


# --- the broker epoch ---------------------------------------------------------------------------


def broker_epoch() -> tuple[bool, datetime | None]:
    """(whether the broker answers, when its current store of messages began). The time is in a
    key kept beside the messages, written wherever it is missing: a broker that lost its
    messages (restarted without persistence, or flushed) lost the key with them, so the time
    moves on, and every row published before it may have lost its message. No time where the
    broker is not Redis (kombu's filesystem broker loses nothing)."""
    url = current_app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://")):
        return True, None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.set(EPOCH_KEY, _now().isoformat(), nx=True)
            value = client.get(EPOCH_KEY)
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False, None
    try:
        return True, datetime.fromisoformat(value.decode())
    except (AttributeError, ValueError):  # gone meanwhile, or not ours: no time to go by
        return True, None


# --- the sweeper --------------------------------------------------------------------------------


def sweep(kind: OutboxKind) -> dict:
    """Take back rows whose worker died (stale heartbeat), fail rows past OUTBOX_MAX_ATTEMPTS,
    and publish again what the broker may not hold: queued rows never published, due for a
    resend, or published before the broker's epoch."""
    limit = settings.OUTBOX_MAX_ATTEMPTS
    now = _now()
    dead = kind.model.objects.filter(status=kind.working).filter(_stale())
    given_up = dead.filter(attempts__gte=limit).update(
        status=kind.failed, finished_at=now, last_error=f"Its worker was lost {limit} times."
    )
    reclaimed = dead.update(status=kind.queued, claim=None, enqueued_at=None, resend_at=None)
    up, epoch = broker_epoch()
    if not up:
        return {"waiting": 0, "sent": 0, "reclaimed": reclaimed, "failed": given_up}
    due = Q(enqueued_at__isnull=True) | Q(resend_at__lte=now)
    if epoch is not None:
        due |= Q(enqueued_at__lt=epoch)
    queued = kind.model.objects.filter(status=kind.queued).filter(due)
    given_up += queued.filter(publish_count__gte=limit).update(
        status=kind.failed, finished_at=now,
        last_error=f"Sent to the worker {limit} times and never started.",
    )  # fmt: skip
    waiting = list(
        queued.order_by("pk").values_list("pk", "publish_count")[: settings.OUTBOX_SWEEP_BATCH]
    )
    sent = 0
    for pk, published in waiting:
        if not publish(kind, pk, published=published):
            break  # the broker is down: the next sweep tries again
        sent += 1
    if reclaimed:
        logger.warning("%s: %s taken back from workers that died", kind.name, reclaimed)
    if given_up:
        logger.error("%s: %s failed after %s attempts", kind.name, given_up, limit)
    return {"waiting": len(waiting), "sent": sent, "reclaimed": reclaimed, "failed": given_up}


def sweep_all() -> dict:
    """Sweep every registered kind (the beat task `referrals.sweep_outbox`)."""
    return {kind.name: sweep(kind) for kind in KINDS.values()}
