"""The referrals app's configuration: its figures join /metrics when ready."""

from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"

    def ready(self):
        from portal.metrics import register_collector
        from referrals.metrics import ReferralsCollector

        register_collector(ReferralsCollector())
