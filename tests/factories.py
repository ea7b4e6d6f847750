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
