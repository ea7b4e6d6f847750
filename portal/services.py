from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.models import ReferrerProfile, User


@transaction.atomic
def referrer_signup(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    provider_number: str,
    practice_name: str,
    address: str,
    phone: str,
) -> User:
    """A referring doctor's account, waiting for the practice's approval before submitting."""
    user = User.objects.create_user(
        email=email, password=password, first_name=first_name, last_name=last_name
    )
    user.groups.add(Group.objects.get_or_create(name=roles.REFERRER)[0])
    ReferrerProfile.objects.create(
        user=user,
        provider_number=provider_number,
        practice_name=practice_name,
        address=address,
        phone=phone,
    )
    return user


def referrer_approve(*, profile: ReferrerProfile, by: User) -> None:
    if profile.approved_at is None:
        profile.approved_at = timezone.now()
        profile.approved_by = by
        profile.save(update_fields=["approved_at", "approved_by"])
