"""Session limits and the two-factor requirement, applied to every request."""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import user_has_device

from portal.roles import user_roles

SIGNED_IN_AT = "portal_signed_in_at"


class SessionLimitsMiddleware:
    """Ends a session SESSION_ABSOLUTE_SECONDS after sign-in, however active it has been.

    (The idle limit is the session cookie's age, renewed on every request; a password change
    ends other sessions through Django's session hash; a deactivated user is signed out by the
    authentication backend on their next request.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            started = request.session.get(SIGNED_IN_AT)
            if started is not None and time.time() - started > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
                messages.info(request, "For safety you were signed out; please sign in again.")
                return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and SIGNED_IN_AT not in request.session:
            request.session[SIGNED_IN_AT] = time.time()  # the first response of a new session
        return response


EXEMPT_PREFIXES = ("/accounts/login/", "/accounts/logout/", "/accounts/two-factor/", "/static/",
                   "/healthz", "/practice.css")  # fmt: skip


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
