"""The portal project: settings, accounts and roles, the audit trail; loads the Celery app."""

from portal.celery import app as celery_app

__all__ = ("celery_app",)
