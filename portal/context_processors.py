"""What every page's template gets: the navigation for the user's roles, and the practice's
contact details."""

from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from portal import roles
from portal.models import PracticeProfile


def practice(request):
    """The practice's contact details, read only by a page that shows them (one query)."""
    return {"practice": SimpleLazyObject(PracticeProfile.load)}


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
