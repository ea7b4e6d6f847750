"""Faults, fast (issue 14): the outbox's recovery rules (heartbeat, resend backoff, the broker's
epoch, a task Celery gave up on), files left behind by a failure between storage and database,
and temporary upload files left by a web worker killed mid-upload.

The slow ones (a Redis the test stops for a minute, a worker it kills) are tests/recovery/."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from referrals import outbox
from referrals.models import Attachment, Packet
from referrals.packets import parts
from referrals.packets import queue as packet_queue
from referrals.uploads import sweep_upload_temp
from tests.factories import make_referral
from tests.files import pdf_bytes
from tests.test_packets import DOCUMENTS, referral_with_documents, temp_upload

ROOT = Path(__file__).resolve().parent.parent
PACKETS = packet_queue.PACKETS
needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (DATABASE_URL): the test ends a server connection",
)


@pytest.fixture
def published(monkeypatch):
    """The render tasks published, recorded instead of sent (the broker is not what is tested
    here; tests/recovery/ runs a real one)."""
    sent = []

    def record(args, **options):
        sent.append(args[0])

    monkeypatch.setattr("referrals.tasks.render_packet.apply_async", record)
    return sent


@pytest.fixture
def packet(referrer, private_media, published):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    published.clear()
    row = referral.packets.get()
    Packet.objects.filter(pk=row.pk).update(enqueued_at=None)
    return row


def ago(seconds):
    return timezone.now() - timedelta(seconds=seconds)


# --- the heartbeat ------------------------------------------------------------------------------


def test_a_render_whose_heartbeat_stopped_is_taken_back_and_sent_again(packet, published):
    Packet.objects.filter(pk=packet.pk).update(
        status="rendering", claim=uuid.uuid4(), claimed_at=ago(400), heartbeat_at=ago(31)
    )
    result = outbox.sweep(PACKETS)
    assert (result["reclaimed"], result["sent"]) == (1, 1)
    assert published == [packet.pk]
    packet.refresh_from_db()
    assert (packet.status, packet.claim, packet.publish_count) == ("queued", None, 1)


def test_a_render_with_a_fresh_heartbeat_is_left_alone_however_long_it_runs(packet, published):
    Packet.objects.filter(pk=packet.pk).update(
        status="rendering", claim=uuid.uuid4(), claimed_at=ago(4000), heartbeat_at=ago(5)
    )
    assert outbox.sweep(PACKETS)["reclaimed"] == 0
    assert published == []
    assert Packet.objects.get(pk=packet.pk).status == "rendering"


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_beats_while_the_work_runs(referrer, private_media, published, settings):
    settings.OUTBOX_HEARTBEAT_SECONDS, settings.OUTBOX_STALE_SECONDS = 1, 2
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    row = referral.packets.get()
    seen = {}

    def slow_work(packet):
        time.sleep(3.5)  # past the stale age: only the heartbeat keeps the row ours
        seen["sweep"] = outbox.sweep(PACKETS)
        seen["row"] = Packet.objects.values("claimed_at", "heartbeat_at").get(pk=packet.pk)
        return {}

    assert outbox.run(PACKETS, row.pk, slow_work) is True
    assert seen["sweep"]["reclaimed"] == 0
    beat = (seen["row"]["heartbeat_at"] - seen["row"]["claimed_at"]).total_seconds()
    assert beat >= 2, f"the last heartbeat was {beat:.1f}s after the claim"


# --- publishing: backoff, the broker's epoch, the attempts limit --------------------------------


def test_each_resend_waits_twice_as_long_as_the_one_before(packet, published, settings):
    settings.OUTBOX_RESEND_SECONDS = 60
    outbox.sweep(PACKETS)  # never published: at once
    packet.refresh_from_db()
    assert packet.publish_count == 1
    assert 59 <= (packet.resend_at - packet.enqueued_at).total_seconds() <= 61
    assert outbox.sweep(PACKETS)["sent"] == 0  # its first message may still be waiting

    Packet.objects.filter(pk=packet.pk).update(resend_at=ago(1))
    assert outbox.sweep(PACKETS)["sent"] == 1
    packet.refresh_from_db()
    assert packet.publish_count == 2
    assert 119 <= (packet.resend_at - packet.enqueued_at).total_seconds() <= 121
    assert published == [packet.pk, packet.pk]


def test_the_resend_interval_is_capped(settings):
    settings.OUTBOX_RESEND_SECONDS, settings.OUTBOX_RESEND_MAX_SECONDS = 120, 3600
    assert [outbox.resend_delay(n).total_seconds() for n in range(7)] == [
        120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_rows_published_before_the_broker_lost_its_messages_are_sent_again_at_once(
    packet, published
):
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    outbox.sweep(PACKETS)
    assert outbox.sweep(PACKETS)["sent"] == 0  # published, and not yet due again
    # A Redis restarted without persistence (or flushed) has lost the epoch key with the
    # messages; the sweeper writes a new one, and everything published before it goes again.
    client.delete(outbox.EPOCH_KEY)
    time.sleep(0.01)
    assert outbox.sweep(PACKETS)["sent"] == 1
    assert outbox.sweep(PACKETS)["sent"] == 0  # once
    assert published == [packet.pk, packet.pk]
    up, epoch = outbox.broker_epoch()
    assert up and epoch <= timezone.now()


def test_a_broker_that_does_not_answer_is_not_published_to(packet, published, settings):
    from portal.celery import app

    saved = app.conf.broker_url
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.conf.broker_url = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    try:
        started = time.monotonic()
        assert outbox.sweep(PACKETS)["sent"] == 0
        assert time.monotonic() - started < 5
    finally:
        app.conf.broker_url = saved
    assert published == []


def test_a_row_past_the_attempts_limit_is_failed_not_sent_again(packet, published, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    Packet.objects.filter(pk=packet.pk).update(publish_count=3, enqueued_at=ago(999),
                                               resend_at=ago(1))  # fmt: skip
    assert outbox.sweep(PACKETS)["failed"] == 1
    packet.refresh_from_db()
    assert packet.status == "failed" and "3 times" in packet.last_error
    assert published == []


def test_a_render_that_keeps_losing_its_worker_is_failed(packet, published, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    Packet.objects.filter(pk=packet.pk).update(status="rendering", attempts=3, claim=uuid.uuid4(),
                                               heartbeat_at=ago(60))  # fmt: skip
    assert outbox.sweep(PACKETS)["failed"] == 1
    assert Packet.objects.get(pk=packet.pk).status == "failed"
    assert published == []


# --- a task Celery gave up on -------------------------------------------------------------------


def test_a_task_celery_terminated_gives_its_row_back_at_once(packet, published):
    task_id = str(uuid.uuid4())
    assert outbox.claim(PACKETS, packet.pk, task_id=task_id) == uuid.UUID(task_id)
    outbox.task_lost("referrals.render_packet", task_id, [packet.pk], error="terminated")
    packet.refresh_from_db()
    assert (packet.status, packet.claim) == ("queued", None)
    assert "terminated" in packet.last_error
    assert published == [packet.pk]


def test_a_lost_task_does_not_touch_a_row_someone_else_holds(packet, published):
    holder = outbox.claim(PACKETS, packet.pk, task_id=str(uuid.uuid4()))
    outbox.task_lost("referrals.render_packet", str(uuid.uuid4()), [packet.pk], error="lost")
    packet.refresh_from_db()
    assert (packet.status, packet.claim) == ("rendering", holder)
    assert published == []


def test_a_task_past_its_time_limit_fails_its_row(packet, published):
    task_id = str(uuid.uuid4())
    outbox.claim(PACKETS, packet.pk, task_id=task_id)
    outbox.task_lost("referrals.render_packet", task_id, [packet.pk], give_up=True,
                     error="It took longer than the time limit.")  # fmt: skip
    assert Packet.objects.get(pk=packet.pk).status == "failed"


def test_the_same_task_delivered_again_after_its_process_died_takes_its_row_back(packet):
    task_id = str(uuid.uuid4())
    outbox.claim(PACKETS, packet.pk, task_id=task_id)  # then its process was SIGKILLed
    assert outbox.claim(PACKETS, packet.pk, task_id=str(uuid.uuid4())) is None  # not another's
    assert outbox.claim(PACKETS, packet.pk, task_id=task_id) is not None  # its own redelivery


def test_the_sweeps_run_on_the_control_queue():
    from portal.celery import app

    for name in ("referrals.sweep_outbox", "referrals.sweep_uploads"):
        assert app.amqp.router.route({}, name)["queue"].name == "control"
    assert app.amqp.router.route({}, "referrals.render_packet")["queue"].name == "celery"
    assert {"celery", "control"} <= set(app.amqp.queues)


# --- storage, then the database: a failure between them leaves no file ----------------------


def end_this_connection():
    """Terminate this process's own PostgreSQL session from another one (a real fault)."""
    import psycopg

    pid = connection.connection.info.backend_pid
    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                         dbname=s["NAME"], autocommit=True) as other:  # fmt: skip
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_packet_stored_but_not_recorded_leaves_no_file(referrer, private_media, published):
    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    packet = referral.packets.get()

    def make_then_lose_the_database(row):
        fields = packet_queue.packet_make(row)  # the PDF is in storage now
        end_this_connection()
        return fields

    with pytest.raises(outbox.Retry):
        outbox.run(PACKETS, packet.pk, make_then_lose_the_database)
    connection.close()
    folder = private_media / "packets" / str(referral.uuid)
    assert not folder.exists() or files_under(folder) == []
    # The retry (same task: its claim) renders it again, once.
    Packet.objects.filter(pk=packet.pk).update(status="queued")
    assert packet_queue.packet_render(packet_id=packet.pk) is not None
    assert len(files_under(folder)) == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_part_stored_but_not_recorded_leaves_no_file(referrer, private_media, monkeypatch):
    referral = make_referral(referrer)
    attachment = parts_add(referral, referrer)
    before = files_under(private_media)
    real_update = type(Attachment.objects.all()).update

    def update_after_losing_the_database(queryset, **fields):
        if "part" in fields:
            end_this_connection()
        return real_update(queryset, **fields)

    monkeypatch.setattr(type(Attachment.objects.all()), "update", update_after_losing_the_database)
    with pytest.raises(Exception, match="terminat|closed|connection"):
        parts.attachment_prepare(attachment_id=attachment.pk)
    monkeypatch.undo()
    connection.close()
    assert files_under(private_media) == before  # the upload itself, no part beside it
    parts.attachment_prepare(attachment_id=attachment.pk)
    attachment.refresh_from_db()
    assert attachment.part_status == "ready"
    assert len(files_under(private_media)) == len(before) + 1


def parts_add(referral, by):
    from referrals import attachments

    upload = temp_upload("notes.pdf", pdf_bytes(pages=2))
    return attachments.attachment_add(
        referral=referral, kind="clinical_notes", by=by, uploaded_file=upload
    )


# --- a web worker killed mid-upload: its temporary file is swept --------------------------------


def wait_for(predicate, *, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_a_web_worker_killed_mid_upload_leaves_a_file_that_is_swept(tmp_path, settings):
    """gunicorn (one worker) on a port of our own receives half an upload; the worker is
    SIGKILLed, its temporary file stays; the sweep removes it once it is an hour old."""
    temp = tmp_path / "uploads"
    temp.mkdir()
    port = 7100 + os.getpid() % 50
    env = {**os.environ, "DEBUG": "1", "FILE_UPLOAD_TEMP_DIR": str(temp), "GUNICORN_BIND":
           f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "GUNICORN_ACCESS_LOG": ""}  # fmt: skip
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn_conf.py", "portal.wsgi"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: _listening(port), timeout=30, what="gunicorn")
        boundary = "----faults"
        body_head = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="scan.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            ).encode()
            + b"%PDF-1.7\n"
            + b"0" * 300_000
        )
        token = "a" * 32
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                (f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                 f"Content-Length: {len(body_head) + 5_000_000}\r\n"
                 f"Cookie: csrftoken={token}\r\n\r\n").encode() + body_head
            )  # fmt: skip
            left = wait_for(lambda: list(temp.iterdir()), timeout=20, what="a temporary file")
            workers = _children(server.pid)
            assert workers, "no gunicorn worker"
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        log.close()
    assert [p.name for p in temp.iterdir()] == [p.name for p in left]  # left behind
    assert left[0].name.endswith(".upload.pdf")

    settings.FILE_UPLOAD_TEMP_DIR = str(temp)
    fresh = temp / "tmpfresh.upload"
    fresh.write_bytes(b"arriving")
    assert sweep_upload_temp() == 0  # not an hour old yet
    hour_ago = time.time() - settings.UPLOAD_TEMP_MAX_AGE_SECONDS - 1
    os.utime(left[0], (hour_ago, hour_ago))
    assert sweep_upload_temp() == 1
    assert [p.name for p in temp.iterdir()] == ["tmpfresh.upload"]


def _listening(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],  # noqa: S603, S607
                         capture_output=True, text=True, check=False).stdout  # fmt: skip
    return [int(p) for p in out.split()]


def test_the_sweep_uploads_command_reports_what_it_removed(tmp_path, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    old = tmp_path / "tmpold.upload.pdf"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    out = StringIO()
    call_command("sweep_uploads", stdout=out)
    assert "Removed 1 temporary upload file(s)" in out.getvalue()
    assert not old.exists()


# --- an upload sent twice stores one document ---------------------------------------------------


def upload_post(client, referral, content, token, name="notes.pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    return client.post(
        reverse("attachment_upload", args=[referral.uuid]),
        {"kind": "clinical_notes", "upload_token": token,
         "file": SimpleUploadedFile(name, content, "application/octet-stream")},
    )  # fmt: skip


def attachment_files(media: Path) -> list[str]:
    folder = media / "attachments"
    return files_under(folder) if folder.exists() else []


@pytest.mark.django_db(transaction=True)
def test_the_same_upload_posted_twice_at_once_stores_one_document(referrer, private_media):
    import threading

    from django.db import connections
    from django.test import Client

    referral = make_referral(referrer)
    content, token = pdf_bytes(pages=2), str(uuid.uuid4())
    gate = threading.Barrier(2)
    answers = []

    def post():
        client = Client()
        client.force_login(referrer)
        gate.wait()
        try:
            answers.append(upload_post(client, referral, content, token))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [302, 302]
    assert Attachment.objects.filter(referral=referral).count() == 1
    assert len(attachment_files(private_media)) == 1
    assert Attachment.objects.get(referral=referral).upload_token == uuid.UUID(token)


def test_a_repeated_upload_returns_the_first_result(client, referrer, private_media):
    referral = make_referral(referrer)
    client.force_login(referrer)
    content, token = pdf_bytes(pages=2), str(uuid.uuid4())
    first = upload_post(client, referral, content, token)
    again = upload_post(client, referral, content, token)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    page = client.get(again["Location"]).content.decode()
    assert "Added “notes.pdf”" in page
    assert referral.attachments.count() == 1 and len(attachment_files(private_media)) == 1


def test_a_file_already_on_the_referral_is_not_stored_again(client, referrer, private_media):
    referral = make_referral(referrer)
    client.force_login(referrer)
    content = pdf_bytes(pages=3)
    upload_post(client, referral, content, str(uuid.uuid4()), name="discharge summary.pdf")
    answer = upload_post(client, referral, content, str(uuid.uuid4()), name="copy.pdf")
    assert answer.status_code == 302
    page = client.get(answer["Location"]).content.decode()
    assert "already attached as “discharge summary.pdf”" in page
    assert referral.attachments.count() == 1 and len(attachment_files(private_media)) == 1


def test_an_old_pages_token_with_another_file_is_a_new_upload(client, referrer, private_media):
    referral = make_referral(referrer)
    client.force_login(referrer)
    token = str(uuid.uuid4())
    upload_post(client, referral, pdf_bytes(pages=1), token)
    upload_post(client, referral, pdf_bytes(pages=2), token, name="second.pdf")  # back button
    assert sorted(referral.attachments.values_list("original_name", flat=True)) == [
        "notes.pdf", "second.pdf",
    ]  # fmt: skip


def test_the_upload_form_carries_a_token_made_by_the_server(client, referrer):
    from django.urls import reverse

    referral = make_referral(referrer)
    client.force_login(referrer)
    page = client.get(reverse("referral_section", args=[referral.uuid, "documents"]))
    html = page.content.decode()
    assert 'name="upload_token"' in html and 'class="upload-token"' in html
    again = client.get(reverse("referral_section", args=[referral.uuid, "documents"]))
    assert _token_in(html) != _token_in(again.content.decode())  # a new one each page


def _token_in(html: str) -> str:
    import re

    return re.search(r'name="upload_token" value="([0-9a-f-]{36})"', html).group(1)


def test_a_web_process_knows_the_tasks_it_publishes():
    """A fresh process, as gunicorn's: Django set up, nothing else imported."""
    code = (
        "import django; django.setup(); from celery import current_app; "
        "print(sorted(n for n in current_app.tasks if n.startswith('referrals.')))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout  # fmt: skip
    for name in ("referrals.render_packet", "referrals.send_notification",
                 "referrals.prepare_attachment", "referrals.sweep_outbox"):  # fmt: skip
        assert name in out
