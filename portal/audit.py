"""The audit trail: who did what, when, from where (SPEC §10). Append-only; no clinical text.
Referrals read a referral's trail on their own page (referrals/views/referral.py)."""

import ipaddress
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from portal.models import AuditEvent, User

# The request being handled, so services (which take no request) can record the address too.
_current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


class AuditRequestMiddleware:
    """Makes the current request available to audit_record for the length of the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def _valid_ip(value: str) -> str | None:
    """The address in normal form, or None if `value` is not one."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the first X-Forwarded-For entry when behind a trusted proxy."""
    # X-Forwarded-For is whatever the client sent unless a proxy we run overwrites it, so it is
    # only believed when the deployment says so.
    if getattr(settings, "AUDIT_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded and (first := _valid_ip(forwarded.split(",")[0])):
            return first
    return _valid_ip(request.META.get("REMOTE_ADDR", ""))


def audit_record(
    *,
    request: HttpRequest | None = None,
    action: str,
    referral=None,  # a referrals.Referral: the audit trail sits below the apps it records
    actor: User | None = None,
    actor_email: str = "",
    object_repr: str = "",
    detail: str = "",
) -> AuditEvent:
    """Append one event; actor, address and browser come from `request` when not given (by
    default the request being handled, when there is one)."""
    if request is None:
        request = _current_request.get()
    ip_address = None
    user_agent = ""
    if request is not None:
        user = getattr(request, "user", None)
        if actor is None and user is not None and user.is_authenticated:
            actor = user
        ip_address = client_ip(request)
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]
    if actor is not None and not actor_email:
        actor_email = actor.email
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_email=actor_email[:254],
        referral=referral,
        object_repr=object_repr[:200],
        detail=detail,
        ip_address=ip_address,
        user_agent=user_agent,
    )


# Receivers for django.contrib.auth's signals, connected by importing this module in
# PortalConfig.ready(). Signals because Django's own login and logout views are where these
# happen; the dispatch_uid keeps a second import from connecting them twice.


@receiver(user_logged_in, dispatch_uid="portal.audit.signed_in")
def _signed_in(sender, request, user, **kwargs):
    audit_record(request=request, action=AuditEvent.Action.SIGN_IN, actor=user)


@receiver(user_logged_out, dispatch_uid="portal.audit.signed_out")
def _signed_out(sender, request, user, **kwargs):
    if user is None:  # signing out when not signed in
        return
    audit_record(request=request, action=AuditEvent.Action.SIGN_OUT, actor=user)


@receiver(user_login_failed, dispatch_uid="portal.audit.sign_in_failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    # Only the typed email is kept: never the password (Django masks it anyway).
    audit_record(
        request=request,
        action=AuditEvent.Action.SIGN_IN_FAILED,
        actor_email=str(credentials.get("username") or ""),
    )


def _locked_out(sender, request, username=None, ip_address=None, **kwargs):
    audit_record(
        request=request,
        action=AuditEvent.Action.SIGN_IN_FAILED,
        actor_email=(username or "")[:254],
        detail="locked out after repeated failures",
    )


def connect_lockout_signal() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="portal.audit.locked_out")
