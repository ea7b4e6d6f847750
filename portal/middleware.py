"""Session limits and the two-factor requirement, applied to every request."""

import hashlib
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core import signing
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import user_has_device

from portal.roles import user_roles

SIGNED_IN_AT = "portal_signed_in_at"
WRITTEN_AT = "portal_written_at"  # when this middleware last wrote the session row
SEEN_COOKIE = "portal_seen"  # the time of the last response, signed, bound to the session
_SEEN_SALT = "portal.middleware.seen"


def _session_tag(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:20]


def _last_seen(request) -> float | None:
    """The last response's time from its signed cookie, if it is this session's."""
    value = request.COOKIES.get(SEEN_COOKIE)
    key = request.session.session_key
    if not value or not key:
        return None
    try:
        tag, _, stamp = signing.Signer(salt=_SEEN_SALT).unsign(value).partition(":")
        if tag == _session_tag(key):
            return float(stamp)
    except (signing.BadSignature, ValueError):
        pass
    return None


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, but a request that changes nothing writes nothing.

    The session row is written when it changed, or when its last write is
    SESSION_RENEW_SECONDS old (so it never expires before the idle limit). Every response
    still renews the session cookie's Max-Age and carries the time of the request in a signed
    cookie (SEEN_COOKIE), from which SessionLimitsMiddleware ends a session idle past
    SESSION_COOKIE_AGE, to the second.
    """

    def process_response(self, request, response):
        session = getattr(request, "session", None)
        try:
            empty = session.is_empty()
        except AttributeError:
            return response
        cookie_only = False
        if not empty and response.status_code < 500:
            now = time.time()
            written = session.get(WRITTEN_AT)
            if (
                session.modified
                or written is None
                or now - written >= settings.SESSION_RENEW_SECONDS
            ):
                session[WRITTEN_AT] = (
                    now  # modified: Django's middleware saves it and sets the cookie
                )
            else:
                cookie_only = True
        response = super().process_response(request, response)
        if empty or response.status_code >= 500 or not session.session_key:
            return response
        cookie = {
            "max_age": settings.SESSION_COOKIE_AGE,
            "domain": settings.SESSION_COOKIE_DOMAIN,
            "path": settings.SESSION_COOKIE_PATH,
            "secure": settings.SESSION_COOKIE_SECURE or None,
            "httponly": True,
            "samesite": settings.SESSION_COOKIE_SAMESITE,
        }
        if cookie_only:
            response.set_cookie(settings.SESSION_COOKIE_NAME, session.session_key, **cookie)
        stamp = f"{_session_tag(session.session_key)}:{time.time():.3f}"
        response.set_cookie(SEEN_COOKIE, signing.Signer(salt=_SEEN_SALT).sign(stamp), **cookie)
        return response


def _idle_seconds(request) -> float | None:
    """Seconds since the session's last request: its signed cookie, else its last write."""
    marks = [t for t in (_last_seen(request), request.session.get(WRITTEN_AT)) if t is not None]
    return time.time() - max(marks) if marks else None


class SessionLimitsMiddleware:
    """Ends a session SESSION_COOKIE_AGE after its last request (the idle limit), and
    SESSION_ABSOLUTE_SECONDS after sign-in however active it has been.

    (The session row is not written on every request: see SessionMiddleware. A password change
    ends other sessions through Django's session hash; a deactivated user is signed out by the
    authentication backend on their next request.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            started = request.session.get(SIGNED_IN_AT)
            idle = _idle_seconds(request)
            if (
                started is not None and time.time() - started > settings.SESSION_ABSOLUTE_SECONDS
            ) or (idle is not None and idle > settings.SESSION_COOKIE_AGE):
                logout(request)
                messages.info(request, "For safety you were signed out; please sign in again.")
                return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and SIGNED_IN_AT not in request.session:
            request.session[SIGNED_IN_AT] = time.time()  # the first response of a new session
        return response


EXEMPT_PREFIXES = ("/accounts/login/", "/accounts/logout/", "/accounts/two-factor/", "/static/",
                   "/healthz", "/readyz", "/metrics", "/practice.css")  # fmt: skip


def two_factor_required(user) -> bool:
    if not settings.OTP_REQUIRED:
        return False
    return user.is_superuser or bool(user_roles(user) & set(settings.OTP_REQUIRED_ROLES))


NO_DEVICE = "portal_otp_no_device"


def _has_device(request) -> bool:
    """Whether the user has an authenticator; "no" is remembered for the session (a device is
    only ever added through setup, which verifies the session at once)."""
    if request.session.get(NO_DEVICE):
        return False
    has = user_has_device(request.user, confirmed=True)
    if not has:
        request.session[NO_DEVICE] = True
    return has


class TwoFactorMiddleware:
    """A signed-in user with an authenticator must enter a code before anything else; practice
    staff without one must set one up first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()
            and not request.path.startswith(EXEMPT_PREFIXES)
        ):
            if _has_device(request):
                target = "otp_verify"
            elif two_factor_required(user):
                target = "otp_setup"
            else:
                target = None
            if target is not None:
                if request.path.startswith("/api/"):
                    return JsonResponse({"error": "Two-factor sign-in is needed."}, status=401)
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse(target)}?{query}")
        return self.get_response(request)
