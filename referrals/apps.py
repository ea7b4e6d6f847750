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

        # The forms' copy of the hospitals: a change in the admin shows at once in this process.
        from django.db.models.signals import post_delete, post_save

        from referrals.forms.fields import all_sites

        for signal in (post_save, post_delete):
            signal.connect(all_sites.forget, sender="referrals.Site", dispatch_uid="forget_sites")
