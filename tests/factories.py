"""Factories for synthetic people and referrals.

Identifiers are fixed numbers written out here, checked by hand against each scheme's
published algorithm (not made by the portal's own check functions, so a mistake in those
cannot hide behind numbers it built itself). tests/test_validators.py holds the known-bad ones.
"""

import datetime
import itertools

import factory
from django.contrib.auth.models import Group

from portal import roles
from portal.models import ReferrerProfile, User

PASSWORD = "correct-horse-battery-staple"

# Medicare card numbers: ninth digit = (first eight x 1,3,7,9,1,3,7,9) mod 10; tenth the issue.
VALID_MEDICARE_NUMBERS = (
    "5877893251", "6792174261", "2809679251", "6081003391", "6075793871", "3470174681",
    "6145384071", "2916146141", "2033076671", "5193451401", "4061231031", "2772837881",
    "3266166331", "2494032601", "6910237461", "2954611151",
)  # fmt: skip
# IHIs: 16 digits starting 800360, Luhn check over all 16.
VALID_IHIS = (
    "8003603930955977", "8003602979262246", "8003603933283674", "8003609160110845",
    "8003603646974825", "8003601237899146", "8003603301467305", "8003600245892150",
)  # fmt: skip
# Provider numbers: check = YXWTLKJHFBA[(stem x 3,5,8,4,2,1 + location value x 6) mod 11].
VALID_PROVIDER_NUMBERS = (
    "2758922W", "0754004K", "7145214F", "785025NY", "1716070Y", "9669094B", "111465QJ",
    "9777811L", "4917037J", "797405KL", "293825VB", "735643UB",
)  # fmt: skip
_next = {
    "medicare": itertools.cycle(VALID_MEDICARE_NUMBERS),
    "ihi": itertools.cycle(VALID_IHIS),
    "provider": itertools.cycle(VALID_PROVIDER_NUMBERS),
}


def make_provider_number(rng=None) -> str:
    """A valid provider number: the next of the fixed ones, or one chosen by `rng`."""
    return rng.choice(VALID_PROVIDER_NUMBERS) if rng else next(_next["provider"])


def make_medicare_number(rng=None) -> str:
    return rng.choice(VALID_MEDICARE_NUMBERS) if rng else next(_next["medicare"])


def make_ihi(rng=None) -> str:
    return rng.choice(VALID_IHIS) if rng else next(_next["ihi"])


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


def complete_patient(rng=None) -> dict:
    return {
        "patient_given_name": "Joan",
        "patient_family_name": "Sample",
        "patient_dob": datetime.date(1944, 3, 9),
        "patient_sex": "female",
        "medicare_number": make_medicare_number(rng),
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
