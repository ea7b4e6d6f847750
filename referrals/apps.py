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

        # The forms' copies of the hospitals and the queue filter's IRs (portal.process_copy): a
        # change in the admin shows at once in this process.
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from portal.models import User
        from referrals.forms.fields import all_sites
        from referrals.forms.staff import filter_radiologists

        for signal in (post_save, post_delete):
            signal.connect(all_sites.forget, sender="referrals.Site", dispatch_uid="forget_sites")
            # The queue filter's IRs: an account saved, or its roles changed, here.
            signal.connect(filter_radiologists.forget, sender=User, dispatch_uid="forget_irs")
        m2m_changed.connect(
            filter_radiologists.forget, sender=User.groups.through, dispatch_uid="forget_irs"
        )
