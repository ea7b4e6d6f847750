"""The Celery app. Configured from Django settings (the CELERY_* names in portal/settings.py)."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from portal.request_id import on_before_task_publish, on_task_postrun, on_task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id of the web request that queued a task is on the worker's log lines for it.
before_task_publish.connect(on_before_task_publish, weak=False)
task_prerun.connect(on_task_prerun, weak=False)
task_postrun.connect(on_task_postrun, weak=False)
