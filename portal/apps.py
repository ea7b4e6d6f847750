"""The portal app (accounts): connects the audit trail's sign-in receivers when ready, and
forgets the pages' copy of the practice's details when they are saved."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Accounts"

    def ready(self):
        # Connects the audit trail's receivers for sign-in, sign-out, failed sign-in and lockout.
        from django.db.models.signals import post_save

        from portal import audit
        from portal.context_processors import page_practice_identity

        audit.connect_lockout_signal()
        # Pages show an edit of the practice's details at once in the process that saved it.
        post_save.connect(
            page_practice_identity.forget, sender="portal.PracticeProfile",
            dispatch_uid="forget_page_practice_identity",
        )  # fmt: skip
