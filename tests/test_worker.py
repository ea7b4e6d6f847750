"""A real Celery worker consumes from the configured broker (Redis in CI)."""

import os

import pytest
from celery.contrib.testing.worker import start_worker

from portal.celery import app
from portal.tasks import ping


@pytest.fixture(scope="module")
def celery_worker_thread():
    # A solo-pool worker in a thread of this process, on the real broker from settings.
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


@pytest.mark.worker
def test_the_health_task_runs_on_a_real_worker(celery_worker_thread):
    assert ping.delay().get(timeout=20) == "pong"


@pytest.mark.worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_with_redis_url_set_the_worker_uses_redis(celery_worker_thread):
    assert app.connection_for_write().transport.driver_type == "redis"
    assert ping.apply_async(queue="celery").get(timeout=20) == "pong"
