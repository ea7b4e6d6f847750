"""Writes to accounts: a referring doctor's sign-up and its approval."""

import logging
from functools import partial

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal import roles
from portal.models import PracticeProfile, ReferrerProfile, User, normalise_email

logger = logging.getLogger(__name__)


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
) -> User | None:
    """A referring doctor's account, waiting for the practice's approval before submitting.

    Sign-up must not tell anyone which addresses have accounts (sign-in is as careful), so the
    caller answers every sign-up the same way, and one email goes to the address either way: a
    new account is told it was made; the owner of an existing account is told someone asked,
    and nothing is created (None). The password is hashed in both cases, so the time taken
    does not tell the two apart either.
    """
    email = normalise_email(email)
    hashed = make_password(password)
    try:
        with transaction.atomic():
            if User.objects.filter(email=email).exists():
                raise IntegrityError("exists")
            user = User.objects.create(
                email=email, password=hashed, first_name=first_name, last_name=last_name
            )
            user.groups.add(Group.objects.get_or_create(name=roles.REFERRER)[0])
            ReferrerProfile.objects.create(
                user=user,
                provider_number=provider_number,
                practice_name=practice_name,
                address=address,
                phone=phone,
            )
    except IntegrityError:  # it exists, or another sign-up made it a moment ago
        transaction.on_commit(partial(_account_email, email, "signup_existing"))
        return None
    transaction.on_commit(partial(_account_email, email, "signup_received"))
    return user


ACCOUNT_SUBJECTS = {
    "signup_received": "your account request",
    "signup_existing": "someone asked for an account with your email address",
}


def _account_email(address: str, template: str) -> None:
    """An email about an account, sent now (after the change commits). Nothing about patients
    is in it; a failure is logged without the address."""
    context = {
        "sign_in_url": settings.SITE_URL + reverse("login"),
        "reset_url": settings.SITE_URL + reverse("password_reset"),
        "practice": PracticeProfile.load(),
    }
    message = EmailMessage(
        subject=f"Vertebroplasty referrals: {ACCOUNT_SUBJECTS[template]}",
        body=render_to_string(f"emails/{template}.txt", context).strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
    )
    try:
        message.send()
    except Exception:
        logger.exception("account email %s could not be sent", template)


def referrer_approve(*, profile: ReferrerProfile, by: User) -> None:
    if profile.approved_at is None:
        profile.approved_at = timezone.now()
        profile.approved_by = by
        profile.save(update_fields=["approved_at", "approved_by"])
