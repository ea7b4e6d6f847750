"""Factories for synthetic people. Identifiers are built with their check algorithms."""

import datetime
import random

import factory
from django.contrib.auth.models import Group

from portal import roles
from portal.models import ReferrerProfile, User
from portal.validators import (
    IHI_PREFIX,
    PROVIDER_LOCATION_CHARS,
    luhn_check_digit,
    medicare_check_digit,
    provider_check_character,
)

PASSWORD = "correct-horse-battery-staple"


def make_provider_number(rng=random) -> str:
    stem = "".join(rng.choice("0123456789") for _ in range(6))
    location = rng.choice(PROVIDER_LOCATION_CHARS)
    return stem + location + provider_check_character(stem, location)


def make_medicare_number(rng=random) -> str:
    first_eight = rng.choice("23456") + "".join(rng.choice("0123456789") for _ in range(7))
    return first_eight + str(medicare_check_digit(first_eight)) + rng.choice("123456789")


def make_ihi(rng=random) -> str:
    partial = IHI_PREFIX + "".join(rng.choice("0123456789") for _ in range(9))
    return partial + str(luhn_check_digit(partial))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])


class ReferrerFactory(UserFactory):
    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get_or_create(name=extracted or roles.REFERRER)[0])

    profile = factory.RelatedFactory(
        "tests.factories.ReferrerProfileFactory", factory_related_name="user"
    )


class ReferrerProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferrerProfile

    user = factory.SubFactory(UserFactory, role=roles.REFERRER)
    provider_number = factory.LazyFunction(make_provider_number)
    practice_name = factory.Sequence(lambda n: f"Example Medical Clinic {n}")
    address = "1 Example Street, Carlton VIC 3053"
    phone = "03 9000 0000"
    approved_at = factory.Faker("date_time_this_year", tzinfo=datetime.UTC)


def eligible_clinical(today: datetime.date) -> dict:
    """Clinical facts that meet every criterion, assessed on `today`."""
    return {
        "levels": ["L1"],
        "cause": "osteoporotic",
        "pain_score": 8,
        "pain_onset": today - datetime.timedelta(days=10),
        "opioid_response": "poor",
        "coagulopathy": "none",
        "infection": "none",
        "canal_compromise": False,
        "neurological_deficit": False,
        "healed_fracture": False,
        "anticoagulation_reviewed": True,
        "coag_profile_on": today - datetime.timedelta(days=3),
    }


def complete_patient(rng=random) -> dict:
    return {
        "patient_given_name": "Joan",
        "patient_family_name": "Sample",
        "patient_dob": datetime.date(1944, 3, 9),
        "patient_sex": "female",
        "medicare_number": make_medicare_number(rng)[:9] + "1",
        "medicare_irn": 2,
        "patient_phone": "0400 000 000",
        "address_line": "2 Example Road",
        "suburb": "Carlton",
        "state": "VIC",
        "postcode": "3053",
        "patient_consent": True,
    }


def make_referral(referrer, *, today=None, status=None, imaging=True, **fields):
    """A synthetic referral built through the services, complete and eligible unless overridden.

    status: None leaves a draft; "submitted" submits it.
    """
    from django.utils import timezone

    from referrals import intake, workflow
    from referrals.models import ImagingStudy, Referral

    today = today or timezone.localdate()
    referral = intake.referral_create(referrer=referrer)
    values = {**complete_patient(), **eligible_clinical(today), **fields}
    Referral.objects.filter(pk=referral.pk).update(**values)
    if imaging:
        ImagingStudy.objects.create(
            referral=referral,
            modality="MRI",
            performed_on=today - datetime.timedelta(days=5),
            acute_fracture=True,
            location="Example Imaging, Carlton",
        )
    referral.refresh_from_db()
    if status == "submitted":
        workflow.referral_submit(referral=referral, by=referrer, outside_criteria_reason="Test")
        referral.refresh_from_db()
    return referral
