"""The referrals app's configuration: its figures join /metrics when ready."""

from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"

    def ready(self):
        # The tasks (and the worker signals they connect) registered in every process, not only
        # the worker: the web publishes them by name (referrals.outbox.send_task), and Celery's
        # autodiscovery imports tasks modules in the worker alone. Without this, every publish
        # from the web failed (NotRegistered) and waited for the sweeper.
        from portal.metrics import register_collector
        from referrals import tasks  # noqa: F401
        from referrals.metrics import ReferralsCollector

        register_collector(ReferralsCollector())
