"""Vertebroplasty eligibility (SPEC section 7): a dictionary of facts in, a frozen result out.

Pure Python: no Django, no database and no clock. The caller passes the date (``today``), so a
result depends only on its inputs and tests need no time freezing. The parts, as the spec's
table has them: the facts and their validation (eligibility/facts.py), the criteria
(eligibility/criteria.py) and the result with its outcome rule (eligibility/result.py). This
module joins them: ``check`` is the one call the form, the API and the command share.

``CRITERIA_VERSION`` is ``YEAR.N``. Bump it whenever the same facts could get a different status,
outcome, advisory or criterion text (a threshold, an allowed word, a rule or the seed wording
changes); N restarts at 1 in a new year. Rewording a reason alone does not bump it. Each submitted
referral stores its result with the version, so a bump never rewrites history.
"""

from datetime import date, timedelta

from eligibility.criteria import (
    CRITERIA,
    DEFAULT_COAG_PROFILE_MAX_AGE_DAYS,
    MIN_PAIN_SCORE,
    TREATABLE_LEVELS,
    WINDOW_DAYS,
    Criterion,
    advisories,
)
from eligibility.facts import (
    CAUSES,
    COAGULOPATHY_VALUES,
    INFECTION_VALUES,
    LEVELS,
    MODALITIES,
    OPIOID_RESPONSES,
    Facts,
    FactsError,
    ImagingStudy,
    parse_facts,
)
from eligibility.result import (
    CRITERIA_VERSION,
    KINDS,
    OUTCOMES,
    STATUSES,
    Advisory,
    CriterionResult,
    Result,
    outcome_from,
    outcome_of,
)

__all__ = [
    "CAUSES", "COAGULOPATHY_VALUES", "CRITERIA", "CRITERIA_VERSION",
    "DEFAULT_COAG_PROFILE_MAX_AGE_DAYS", "INFECTION_VALUES", "KINDS", "LEVELS", "MIN_PAIN_SCORE",
    "MODALITIES", "OPIOID_RESPONSES", "OUTCOMES", "STATUSES", "TREATABLE_LEVELS", "WINDOW_DAYS",
    "Advisory", "Criterion", "CriterionResult", "Facts", "FactsError", "ImagingStudy", "Result",
    "check", "evaluate", "outcome_from", "parse_facts",
]  # fmt: skip


WINDOW = timedelta(days=WINDOW_DAYS)


def evaluate(facts: Facts, *, coag_max_age_days: int = DEFAULT_COAG_PROFILE_MAX_AGE_DAYS) -> Result:
    """Assess facts against CRITERIA; never raises for Facts from parse_facts."""
    if isinstance(coag_max_age_days, bool) or not isinstance(coag_max_age_days, int):
        raise TypeError("coag_max_age_days must be an int")  # a settings mistake, not bad facts
    results = tuple([criterion.assess(facts, coag_max_age_days) for criterion in CRITERIA])
    statuses = {result.status for result in results if result.kind != "workup"}
    onset = facts.pain_onset
    return Result(
        outcome=outcome_of(statuses),
        criteria=results,
        advisories=advisories(facts),
        window_closes_on=None if onset is None else onset + WINDOW,
        assessed_on=facts.assessed_on,
    )


def check(
    data: object, *, today: date, coag_max_age_days: int = DEFAULT_COAG_PROFILE_MAX_AGE_DAYS
) -> Result:
    """parse_facts then evaluate: the one call the form, the API and the command share."""
    return evaluate(parse_facts(data, today=today), coag_max_age_days=coag_max_age_days)
