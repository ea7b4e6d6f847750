"""What every page's template gets: the navigation for the user's roles, the practice's
identity and contact details."""

import functools
import logging

from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from portal import roles
from portal.models import PracticeProfile
from portal.process_copy import ProcessCopy

logger = logging.getLogger(__name__)


def navigation(request):
    """The navigation links for the signed-in user's roles."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    held = roles.user_roles(user)
    links = []
    if roles.REFERRER in held:
        links.append(("referral_list", "My referrals"))
    if roles.ADMIN in held:
        links.append(("triage_queue", "Triage queue"))
        links.append(("practice_profile", "Practice details"))
    if roles.RADIOLOGIST in held:
        links.append(("review_list", "My reviews"))
    if user.is_superuser:
        links.append(("admin:index", "Administration"))
    current = request.path
    return {
        "nav_links": [
            {"url": (url := reverse(name)), "label": label, "active": current.startswith(url)}
            for name, label in links
        ]
    }


def practice_identity() -> dict:
    """The practice's name and contact details (the PracticeProfile row its admins edit at
    /practice/), with its logo (a static path) and colour from settings (PRACTICE_LOGO,
    PRACTICE_COLOUR): for pages, emails, letters and the packet's cover alike."""
    profile = PracticeProfile.load()
    colour = settings.PRACTICE_COLOUR
    return {
        "name": profile.name,
        "urgent_phone": profile.urgent_phone,
        "fax": profile.fax,
        "address": profile.address,
        "hours": profile.hours,
        "contact_line": profile.contact_line,
        "logo": _static_logo(settings.PRACTICE_LOGO),
        "colour": colour,
        "text_colour": _readable_on(colour),
    }


@functools.lru_cache(maxsize=8)
def _static_logo(path: str) -> str:
    """The logo's static path, or "" (no logo) when no static file has it: a missing file
    must not break every page ({% static %} refuses it in production)."""
    if path and finders.find(path):
        return path
    if path:
        logger.warning("PRACTICE_LOGO %r is not a static file; the pages show no logo", path)
    return ""


def _readable_on(colour: str) -> str:
    """White or near-black, whichever reads better on `colour` (WCAG relative luminance)."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#ffffff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) else "#111111"


# Pages' copy (portal.process_copy); emails, letters and packets call practice_identity().
page_practice_identity = ProcessCopy(practice_identity)


def practice(request):
    """The practice's identity for every page (header, sign-in page, footer), read only by a
    page that shows it, and from the database at most once a PRACTICE_DETAILS_CACHE_SECONDS."""
    # One per request, however many templates it renders.
    if not hasattr(request, "_practice_identity"):
        request._practice_identity = SimpleLazyObject(page_practice_identity.get)
    return {"practice": request._practice_identity}
