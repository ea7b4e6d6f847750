from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Accounts"

    def ready(self):
        # Connects the audit trail's receivers for sign-in, sign-out and failed sign-in.
        from portal import audit  # noqa: F401
