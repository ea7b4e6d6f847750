"""The session engine (SESSION_ENGINE = "portal.sessions"): Django's database sessions, with a
row that outlives the idle limit by SESSION_RENEW_SECONDS (see portal.middleware)."""

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore


class SessionStore(DbSessionStore):
    """Database sessions whose row outlives the idle limit by SESSION_RENEW_SECONDS, the most a
    last request can follow the last write; the exact limit is SessionLimitsMiddleware's."""

    def get_expiry_date(self, **kwargs):
        if "expiry" in kwargs or self.get("_session_expiry") is not None:
            return super().get_expiry_date(**kwargs)
        return super().get_expiry_date(
            expiry=settings.SESSION_COOKIE_AGE + settings.SESSION_RENEW_SECONDS
        )
