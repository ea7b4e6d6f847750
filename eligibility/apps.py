"""The eligibility app: the referral criteria, their JSON endpoint and command."""

from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    """The referral criteria. Pure rules in rules.py; no models, no database."""

    name = "eligibility"
