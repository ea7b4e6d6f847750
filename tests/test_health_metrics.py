"""Health, readiness and metrics (issue 19): /healthz for the balancer, /readyz naming what is
not ready, /metrics for staff or the metrics token only."""

import json

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.urls import reverse

from portal import health
from referrals.packets import queue as packet_queue
from tests.factories import UserFactory
from tests.test_packets import referral_with_documents

TOKEN = "metrics-token-for-tests-0123456789"


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")  # no `db` fixture: a query would fail the test
    assert (response.status_code, response.content) == (200, b"ok")


def test_readyz_is_ready_when_database_broker_and_storage_answer(client, db, private_media):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


def test_readyz_names_an_unreachable_broker_without_its_address(client, db, settings):
    from portal.celery import app

    app.conf.broker_url = "redis://127.0.0.1:7799/0"  # nothing listens there (our port range)
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "failed", "storage": "ok"}
    assert b"7799" not in response.content and b"redis" not in response.content


def test_readyz_names_unapplied_migrations(client, db):
    recorder = MigrationRecorder(connection)
    last = recorder.migration_qs.filter(app="referrals").order_by("-id").first()
    last.delete()  # as if a deploy had not migrated yet (rolled back with the test)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "failed"


def test_readyz_names_unreachable_storage(client, db, settings, seaweedfs, monkeypatch):
    from portal.env import env_storage

    monkeypatch.setenv("STORAGE_URL", "s3://portal-missing?endpoint=http://127.0.0.1:7798")
    settings.STORAGES = {**settings.STORAGES, "default": env_storage("STORAGE_URL", None)}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "failed"
    assert b"7798" not in response.content


def test_metrics_are_refused_to_anonymous_and_to_non_staff(client, referrer, admin_user):
    assert client.get("/metrics").status_code == 403
    for user in (referrer, admin_user):
        client.force_login(user)
        assert client.get("/metrics").status_code == 403
    client.logout()
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403


def scrape(client, **headers) -> dict[str, float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    values = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_count_requests_packets_outbox_and_queues(
    client, settings, referrer, private_media
):
    settings.METRICS_TOKEN = TOKEN
    referral = referral_with_documents(referrer)  # packet v1 queued, emails queued
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    client.get(reverse("referral_list"))  # anonymous: sent to sign-in (302)
    before = scrape(client, **bearer)
    assert before['portal_packets{state="queued"}'] == 1
    assert before['portal_outbox_waiting{kind="packet"}'] == 1
    assert before['portal_outbox_waiting{kind="email"}'] >= 1
    assert before['portal_outbox_oldest_seconds{kind="packet"}'] >= 0
    assert 'portal_celery_queue_length{queue="celery"}' in before
    assert before["portal_broker_up"] == 1
    listed = 'portal_http_requests_total{method="GET",status="302",view="referral_list"}'
    assert before[listed] >= 1
    assert before['portal_http_request_duration_seconds_count{view="referral_list"}'] >= 1

    packet_queue.packet_render(packet_id=referral.packets.get().pk)
    after = scrape(client, **bearer)
    assert after['portal_packets{state="ready"}'] == 1
    assert after['portal_packets{state="queued"}'] == 0
    assert after['portal_outbox_waiting{kind="packet"}'] == 0
    assert after["portal_packet_render_seconds_count"] == 1
    assert after['portal_packet_render_seconds_bucket{le="+Inf"}'] == 1
    # A path's ids never become labels: one series per view name.
    assert not any(referral.reference in name or str(referral.uuid) in name for name in after)


def test_a_staff_user_may_read_the_metrics(client, db):
    client.force_login(UserFactory(email="ops@practice.example", is_staff=True))
    assert client.get("/metrics").status_code == 200


def test_a_short_metrics_token_stops_start_up(monkeypatch):
    import subprocess
    import sys

    env = {"DEBUG": "1", "METRICS_TOKEN": "short", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2
    assert "METRICS_TOKEN must be at least 24 characters" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["xml", "JSON!"])
def test_a_bad_log_format_stops_start_up(value):
    import subprocess
    import sys

    env = {"DEBUG": "1", "LOG_FORMAT": value, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2 and "LOG_FORMAT must be plain or json" in result.stderr


def test_readyz_answers_503_naming_every_failed_check_at_once(client, db, monkeypatch):
    def down():
        raise ConnectionError("redis://secret-host:6379 refused")

    monkeypatch.setitem(health.CHECKS, "broker", down)
    monkeypatch.setitem(health.CHECKS, "storage", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert json.loads(response.content)["checks"] == {
        "database": "ok", "broker": "failed", "storage": "failed",
    }  # fmt: skip
    assert b"secret-host" not in response.content
