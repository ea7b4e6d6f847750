"""Who may see which referral: the one place that decides, used by every view."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from portal.roles import ADMIN, RADIOLOGIST, REFERRER, user_roles
from referrals.models import Referral


def referral_for_user(user, referral_uuid, *, action: str = "view") -> Referral:
    """The referral if `user` may `action` it, else 404 (never 403: no hint that it exists).

    action "view": the referrer who owns it; an admin (once submitted: drafts are the doctor's
    own); the IR assigned to it. action "edit": only the owner referrer. action "staff": the
    admin or the assigned IR, not the referrer (the packet is the practice's working copy).
    """
    referral = get_object_or_404(
        # The referrer's profile too: the referral page shows their practice.
        Referral.objects.select_related(
            "referrer__referrer_profile", "preferred_site", "assigned_radiologist"
        ),
        uuid=referral_uuid,
    )
    held = user_roles(user)
    if action in ("view", "edit") and REFERRER in held and referral.referrer_id == user.pk:
        return referral
    if action in ("view", "staff"):
        if ADMIN in held and not referral.is_draft:
            return referral
        if RADIOLOGIST in held and referral.assigned_radiologist_id == user.pk:
            return referral
    raise Http404("No such referral")
