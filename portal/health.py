"""Health for load balancers and orchestrators.

/healthz is liveness: the process answers (no database: a balancer must not pull every web host
at once because the database blinked). /readyz is readiness: the database answers with every
migration applied, the broker answers and the storage is reachable; 503 names what failed,
never why in detail (an error can hold a host name or a key).
"""

import json
import logging
import os
from pathlib import Path

from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


@never_cache
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def check_database() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise RuntimeError("migrations not applied")


def check_broker() -> None:
    from celery import current_app

    with current_app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=0, timeout=2)
        client = getattr(connection.default_channel, "client", None)
        if client is not None:  # Redis: a round trip, not just an open socket
            client.ping()


def check_storage() -> None:
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        # The media folder exists (the storage would make it) and this process may write to it.
        folder = Path(storage.location)
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError("the media folder is not writable")
        return
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:  # S3: the bucket exists and these keys may use it
        bucket.meta.client.head_bucket(Bucket=storage.bucket_name)
        return
    storage.listdir("")


CHECKS = {"database": check_database, "broker": check_broker, "storage": check_storage}


@never_cache
def readyz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            logger.warning("readyz: %s failed (%s)", name, type(exc).__name__)
            results[name] = "failed"
        else:
            results[name] = "ok"
    ready = all(v == "ok" for v in results.values())
    body = {"status": "ready" if ready else "not ready", "checks": results}
    return HttpResponse(
        json.dumps(body), status=200 if ready else 503, content_type="application/json"
    )
