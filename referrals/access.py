"""Who may see which referral: the one place that decides, used by every view."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from portal.roles import ADMIN, RADIOLOGIST, REFERRER, user_roles
from referrals.models import Referral

# What the referral page shows beside the referral: the referrer's practice, the site, the IR.
PAGE_RELATED = ("referrer__referrer_profile", "preferred_site", "assigned_radiologist")


def referral_for_user(
    user, referral_uuid, *, action: str = "view", related=PAGE_RELATED
) -> Referral:
    """The referral if `user` may `action` it, else 404 (never 403: no hint that it exists).

    action "view": the referrer who owns it; an admin (once submitted: drafts are the doctor's
    own); the IR assigned to it. action "edit": only the owner referrer. action "staff": the
    admin or the assigned IR, not the referrer (the packet is the practice's working copy).
    `related`: what to join in (a view that shows none of it, such as autosave, passes ()).
    """
    # (select_related() with no names would follow every foreign key: never call it bare.)
    queryset = Referral.objects.select_related(*related) if related else Referral.objects.all()
    referral = get_object_or_404(queryset, uuid=referral_uuid)
    held = user_roles(user)
    if action in ("view", "edit") and REFERRER in held and referral.referrer_id == user.pk:
        if "referrer__referrer_profile" not in related:
            referral.referrer = user  # the owner, as signed in: no query to read them again
        return referral
    if action in ("view", "staff"):
        if ADMIN in held and not referral.is_draft:
            return referral
        if RADIOLOGIST in held and referral.assigned_radiologist_id == user.pk:
            return referral
    raise Http404("No such referral")
