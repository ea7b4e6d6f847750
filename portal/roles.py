"""Roles are Django groups. These names are created by a migration and used everywhere."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

REFERRER = "referrer"
ADMIN = "admin"
RADIOLOGIST = "radiologist"
ROLES = (REFERRER, ADMIN, RADIOLOGIST)

# Where each role lands after signing in; the first role a user holds wins.
LANDING = {ADMIN: "triage_queue", RADIOLOGIST: "review_list", REFERRER: "referral_list"}


def user_roles(user) -> frozenset[str]:
    """The user's role names, cached on the user object for the request (the session's user
    comes with them: portal.backends.RolesModelBackend)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_roles_cache", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        remember_roles(user, cached)
    return cached


def remember_roles(user, roles: frozenset[str]) -> None:
    user._roles_cache = roles


def has_role(user, role: str) -> bool:
    return role in user_roles(user)


def role_required(*roles: str):
    """Anonymous users go to sign-in; a signed-in user without one of the roles gets 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_roles(request.user) & set(roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
