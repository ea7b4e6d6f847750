"""The one entry point the form, the JSON endpoint and the command share.

It supplies what the pure rules must not look up themselves: today's date in the practice's
time zone and the coagulation-profile age from settings. A batch (a JSON list) is validated
whole first, so a bad item is reported before any answer is written; the results are then
made and written one at a time (`results_json`), never held as a whole list of dicts and its
JSON text at once.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import date

from django.conf import settings
from django.utils import timezone

from eligibility.rules import Facts, FactsError, Result, check, evaluate, parse_facts


class BatchTooLarge(ValueError):
    """A list of more facts objects than this interface takes at once."""

    def __init__(self, size: int, limit: int):
        self.size, self.limit = size, limit
        super().__init__(
            f"a list of {size} facts objects is more than the {limit} taken at once; "
            "send them in smaller batches"
        )


def eligibility_assess(data: object, *, today: date | None = None) -> Result:
    """Assess one facts object. Raises FactsError naming every bad field."""
    return check(
        data,
        today=today or timezone.localdate(),
        coag_max_age_days=settings.COAG_PROFILE_MAX_AGE_DAYS,
    )


def eligibility_parse(
    payload: object, *, today: date | None = None, max_batch: int | None = None
) -> Facts | list[Facts]:
    """Validate a JSON object (one Facts) or a JSON list (a list of Facts, in order).

    Errors from every item of a list are collected, each field prefixed with its index
    ("[2].pain_score"), and raised together as one FactsError. A list longer than `max_batch`
    raises BatchTooLarge before any item is read.
    """
    today = today or timezone.localdate()
    if not isinstance(payload, list):
        return parse_facts(payload, today=today)
    if max_batch is not None and len(payload) > max_batch:
        raise BatchTooLarge(len(payload), max_batch)
    parsed, errors = [], {}
    for index, item in enumerate(payload):
        try:
            parsed.append(parse_facts(item, today=today))
        except FactsError as exc:
            errors.update({f"[{index}].{field}": message for field, message in exc.errors.items()})
    if errors:
        raise FactsError(errors)
    return parsed


def eligibility_result(facts: Facts) -> dict:
    return evaluate(facts, coag_max_age_days=settings.COAG_PROFILE_MAX_AGE_DAYS).as_dict()


def results_json(batch: Iterable[Facts], *, indent: int | None = None) -> Iterator[str]:
    """The JSON list of the batch's results, in pieces: each result is made, written and
    dropped before the next (an answer to a large batch is never all in memory)."""
    yield "["
    separator = ""
    for facts in batch:
        text = json.dumps(eligibility_result(facts), indent=indent, ensure_ascii=False)
        if indent:
            text = "\n" + "\n".join(" " * indent + line for line in text.splitlines())
        yield separator + text
        separator = ","
    yield "\n]" if indent and separator else "]"
