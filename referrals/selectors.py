"""Queries across relations, used by views; each says which index it relies on."""

from django.db.models import Prefetch

from referrals.models import ImagingStudy, Referral, StatusEvent


def referrals_for_dashboard(user):
    """The referrer's referrals, last changed first (index referral_dashboard_idx).

    Imaging is prefetched so drafts can show a live eligibility outcome without a query a row.
    """
    return (
        Referral.objects.filter(referrer=user)
        .order_by("-updated_at", "-id")
        .prefetch_related(Prefetch("imaging", queryset=ImagingStudy.objects.order_by("id")))
    )


def referral_timeline(referral: Referral) -> list[StatusEvent]:
    return list(referral.events.select_related("by").order_by("at", "id"))
