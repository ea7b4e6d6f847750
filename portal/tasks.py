"""The portal's own Celery task: a health ping for the worker."""

from celery import shared_task


@shared_task(name="portal.ping", ignore_result=False)
def ping() -> str:
    """Health check: proves a worker is consuming from the broker."""
    return "pong"
