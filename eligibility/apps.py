from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    """The referral criteria. Pure rules in rules.py; no models, no database."""

    name = "eligibility"
