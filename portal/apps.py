"""The portal app (accounts): connects the audit trail's sign-in receivers when ready."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Accounts"

    def ready(self):
        # Connects the audit trail's receivers for sign-in, sign-out, failed sign-in and lockout.
        from portal import audit

        audit.connect_lockout_signal()
