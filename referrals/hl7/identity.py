"""Who a message is for and who sent it.

The intended recipient (PRD|IR, PRD-7) must be one of HL7_RECEIVER_IDS: the practice's HPI-O or
one of its IRs' Medicare provider numbers. The referrer (PRD|RP) is matched by Medicare provider
number: to the account with that number when there is one, and always to an ExternalReferrer
record, which a superuser can later link to an account (the referrals then move to it).

A referral needs a user as its referrer; one from a doctor without an account is held by the
"secure messaging" user, which cannot sign in (inactive, no password) and is told nothing.
"""

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from portal.audit import audit_record
from portal.models import ReferrerProfile
from referrals.models import ExternalReferrer, Referral

SECURE_MESSAGING_EMAIL = "secure-messaging@portal.invalid"


def normalise_id(text: str) -> str:
    return re.sub(r"\s+", "", text or "").upper()


def is_receiver(identifier: str) -> bool:
    return bool(identifier) and normalise_id(identifier) in set(settings.HL7_RECEIVER_IDS)


def secure_messaging_user():
    """The holder of referrals from doctors without an account: cannot sign in."""
    user_model = get_user_model()
    user = user_model.objects.filter(email=SECURE_MESSAGING_EMAIL).first()
    if user is None:
        user, _created = user_model.objects.get_or_create(
            email=SECURE_MESSAGING_EMAIL,
            defaults={"first_name": "Secure", "last_name": "messaging", "is_active": False},
        )
        if _created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
    return user


def account_for(provider_number: str):
    """The approved, active referrer account with this provider number, if exactly one."""
    profiles = list(
        ReferrerProfile.objects.filter(
            provider_number=provider_number, approved_at__isnull=False, user__is_active=True
        ).select_related("user")[:2]
    )
    return profiles[0].user if len(profiles) == 1 else None


def external_referrer_record(details: dict) -> ExternalReferrer:
    """The record for this provider number, its details refreshed from the latest message."""
    number = details["provider_number"]
    fields = {
        k: (details.get(k) or "")[: ExternalReferrer._meta.get_field(k).max_length]
        for k in ("family_name", "given_name", "practice", "address", "phone", "email")
    }
    record, created = ExternalReferrer.objects.get_or_create(
        provider_number=number, defaults=fields
    )
    if not created:
        changed = {k: v for k, v in fields.items() if v and getattr(record, k) != v}
        if changed:
            ExternalReferrer.objects.filter(pk=record.pk).update(**changed)
            for k, v in changed.items():
                setattr(record, k, v)
    if record.user_id is None:
        account = account_for(number)
        if account is not None:
            ExternalReferrer.objects.filter(pk=record.pk).update(user=account)
            record.user = account
    return record


def referrer_user(record: ExternalReferrer):
    return record.user if record.user_id and record.user.is_active else secure_messaging_user()


def external_referrer_link(*, record: ExternalReferrer, user, by) -> int:
    """Link a record to a doctor's account (a superuser's action in the Django admin): its
    referrals held by the secure-messaging user move to that account. Returns how many moved."""
    with transaction.atomic():
        ExternalReferrer.objects.filter(pk=record.pk).update(user=user)
        record.user = user
        moved = Referral.objects.filter(
            external_referrer=record, referrer__email=SECURE_MESSAGING_EMAIL
        )
        ids = list(moved.values_list("pk", flat=True))
        Referral.objects.filter(pk__in=ids).update(referrer=user)
        audit_record(
            action="account_changed",
            actor=by,
            object_repr=str(record),
            detail=f"linked to {user.email}; {len(ids)} referral(s) moved",
        )
    return len(ids)
