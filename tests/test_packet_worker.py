"""Packets made by a real Celery worker: on the configured broker, after the worker is killed
mid-render, and after the broker was down when the referral was submitted."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.urls import reverse

from portal.celery import app
from referrals import attachments
from referrals.models import Notification, Packet
from referrals.notifications import notifications_sweep
from referrals.packets import queue as packet_queue
from tests.factories import make_referral
from tests.test_packets import DOCUMENTS, referral_with_documents

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, *, timeout: float, interval: float = 0.25, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def packet_status(referral, version=1):
    return (
        Packet.objects.filter(referral=referral, version=version)
        .values_list("status", flat=True)
        .first()
    )


def test_a_worker_makes_the_packet_after_submission(referrer, private_media):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        referral = referral_with_documents(referrer)  # on_commit sends the task
        wait_for(lambda: packet_status(referral) == "ready", timeout=90, what="a ready packet")
    packet = referral.packets.get()
    assert packet.pages >= 7 and len(packet.sha256) == 64
    assert Path(packet.file.path).exists()
    # Each upload also asked the worker for the document's packet part, made once and kept.
    parts = referral.attachments.values_list("part_status", "part_pages")
    assert sorted(parts) == [("ready", 1), ("ready", 1), ("ready", 2), ("ready", 3)]


def test_a_worker_makes_a_drafts_document_part_soon_after_upload(referrer, private_media):
    from tests.test_packets import temp_upload

    referral = make_referral(referrer)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        kind, name, make = DOCUMENTS[0]
        attachment = attachments.attachment_add(
            referral=referral, kind=kind, uploaded_file=temp_upload(name, make()), by=referrer
        )  # not in a transaction here: committed at once, and the task sent
        wait_for(
            lambda: type(attachment).objects.filter(pk=attachment.pk, part_status="ready").exists(),
            timeout=60,
            what="the document's part",
        )
    attachment.refresh_from_db()
    assert attachment.part_pages == 3 and Path(attachment.part.path).exists()
    assert not referral.packets.exists()  # a draft has no packet; its parts are ready for one


# --- the worker killed in the middle of a render -----------------------------------------------


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def spawn_worker(media: Path, log: Path, **extra_env) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(media),
        **extra_env,
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=prefork",
         "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the kill takes its children too
    )  # fmt: skip


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs Redis (REDIS_URL): redelivery of an unacknowledged task is the broker's job",
)
def test_a_worker_killed_mid_render_is_redelivered_and_makes_one_packet(
    referrer, private_media, tmp_path
):
    app.control.purge()
    # Short limits so the redelivery happens within the test: the task is redelivered after the
    # visibility timeout and the claim is taken over once the render is stale.
    limits = {
        "CELERY_TASK_SOFT_TIME_LIMIT": "8",
        "CELERY_TASK_TIME_LIMIT": "10",
        "CELERY_VISIBILITY_TIMEOUT": "12",
        "OUTBOX_STALE_SECONDS": "11",
        "OUTBOX_HEARTBEAT_SECONDS": "2",
    }
    log = tmp_path / "worker.log"
    slow = spawn_worker(private_media, log, PACKET_RENDER_DELAY_SECONDS="60", **limits)
    try:
        referral = referral_with_documents(referrer, documents=DOCUMENTS[:2])
        wait_for(lambda: packet_status(referral) == "rendering", timeout=60, what="rendering")
        stop(slow, signal.SIGKILL)
    finally:
        stop(slow, signal.SIGKILL)
    assert packet_status(referral) == "rendering"  # the dead worker's claim is left behind
    fresh = spawn_worker(private_media, log, **limits)
    try:
        wait_for(
            lambda: packet_status(referral) == "ready",
            timeout=120,
            what=f"redelivery; worker log:\n{log.read_text()[-3000:]}",
        )
    finally:
        stop(fresh)
    packets = list(referral.packets.all())
    assert [(p.version, p.status) for p in packets] == [(1, "ready")]
    assert packets[0].attempts == 2
    folder = private_media / "packets" / str(referral.uuid)
    assert len(list(folder.iterdir())) == 1


# --- the broker down at submission --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, tmp_path: Path) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def up():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True

    wait_for(up, timeout=10, what="redis-server to listen")
    return process


@contextlib.contextmanager
def broker(url: str):
    """Point the Celery app at another broker for the length of a test."""
    saved = (app.conf.broker_url, app.conf.broker_transport_options)

    def reset():
        # kombu keeps connection and producer pools in global registries keyed by URL: drop
        # them all, or a later test would be handed a pool closed here.
        from kombu import pools

        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url = url
    app.conf.broker_transport_options = {
        "visibility_timeout": 600,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "max_retries": 0,
    }
    reset()
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = saved
        reset()


@pytest.mark.skipif(
    not shutil.which("redis-server") and not os.environ.get("CI"),
    reason="redis-server is not installed (apt-get install redis-server)",
)
def test_a_submission_while_redis_is_down_succeeds_fast_and_the_packet_follows(
    client, referrer, admin_user, private_media, tmp_path, mailoutbox
):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    referral = make_referral(referrer)
    with broker(url):
        redis = start_redis(port, tmp_path)
        redis.terminate()
        redis.wait(timeout=10)
        client.force_login(referrer)
        started = time.monotonic()
        response = client.post(reverse("referral_section", args=[referral.uuid, "review"]), {})
        elapsed = time.monotonic() - started
        assert response.status_code == 302
        assert elapsed < 2, f"the doctor waited {elapsed:.1f}s"
        packet = referral.packets.get()
        assert (packet.status, packet.enqueued_at) == ("queued", None)

        emails = list(Notification.objects.filter(referral=referral))
        assert emails and all(n.status == "queued" and n.enqueued_at is None for n in emails)

        redis = start_redis(port, tmp_path)
        try:
            with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
                assert packet_queue.packets_sweep()["sent"] == 1
                assert notifications_sweep()["sent"] == len(emails)
                wait_for(lambda: packet_status(referral) == "ready", timeout=90, what="ready")
                wait_for(
                    lambda: not referral.notifications.exclude(status="sent").exists(),
                    timeout=60,
                    what="the emails",
                )
        finally:
            redis.terminate()
            redis.wait(timeout=10)
    # Nothing lost, nothing twice: one packet, and one email to each recipient.
    assert referral.packets.count() == 1
    assert sorted(m.to[0] for m in mailoutbox) == sorted(n.recipient for n in emails)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (DATABASE_URL): the test ends the worker's server connection",
)
def test_a_lost_database_connection_mid_render_is_retried_and_makes_one_packet(
    referrer, private_media, settings, monkeypatch
):
    settings.PACKET_RENDER_DELAY_SECONDS = 3
    settings.OUTBOX_RETRY_DELAYS = (1, 2, 4, 8, 16)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
        wait_for(lambda: packet_status(referral) == "rendering", timeout=60, what="rendering")
        with connection.cursor() as cursor:
            # Every other session on the test database: the worker thread's connection.
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchall(), "no worker connection to end"
        settings.PACKET_RENDER_DELAY_SECONDS = 0
        wait_for(lambda: packet_status(referral) == "ready", timeout=90, what="the retry")
    packet = referral.packets.get()
    assert (packet.version, packet.status) == (1, "ready")
    assert packet.attempts >= 2
    assert len(list((private_media / "packets" / str(referral.uuid)).iterdir())) == 1
