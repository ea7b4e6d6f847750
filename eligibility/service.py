"""The one entry point the form, the JSON endpoint and the command share.

It supplies what the pure rules must not look up themselves: today's date in the practice's
time zone and the coagulation-profile age from settings.
"""

from datetime import date

from django.conf import settings
from django.utils import timezone

from eligibility.rules import FactsError, Result, check


def eligibility_assess(data: object, *, today: date | None = None) -> Result:
    """Assess one facts object. Raises FactsError naming every bad field."""
    return check(
        data,
        today=today or timezone.localdate(),
        coag_max_age_days=settings.COAG_PROFILE_MAX_AGE_DAYS,
    )


def eligibility_assess_json(payload: object, *, today: date | None = None) -> dict | list:
    """A JSON object gives an object back; a JSON list gives a list back, in the same order.

    Errors from every item are collected, each field prefixed with its index ("[2].pain_score"),
    and raised together as one FactsError.
    """
    if not isinstance(payload, list):
        return eligibility_assess(payload, today=today).as_dict()
    results, errors = [], {}
    for index, item in enumerate(payload):
        try:
            results.append(eligibility_assess(item, today=today).as_dict())
        except FactsError as exc:
            errors.update({f"[{index}].{field}": message for field, message in exc.errors.items()})
    if errors:
        raise FactsError(errors)
    return results
