"""The referrals app's configuration."""

from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
