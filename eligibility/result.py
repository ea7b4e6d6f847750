"""What an assessment gives back: a status and reason per criterion, advisories, the outcome."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

CRITERIA_VERSION = "2026.1"
KINDS = ("indication", "contraindication", "workup")
STATUSES = ("pass", "fail", "unknown")
OUTCOMES = ("eligible", "incomplete", "ineligible")


# Thirteen criterion results are made on every check: NamedTuples, immutable and three times
# quicker to build than frozen dataclasses. A result is one frozen dataclass a check.


class CriterionResult(NamedTuple):
    id: str
    kind: str
    text: str
    status: str  # pass (favourable), fail (unfavourable) or unknown (not enough facts)
    reason: str  # one plain sentence for the doctor
    # What the criterion is about and the facts' answer, to read as one statement
    # ("Coagulopathy: none recorded") that cannot be mistaken for the patient having it.
    topic: str = ""
    answer: str = ""


class Advisory(NamedTuple):
    id: str
    message: str


@dataclass(frozen=True, slots=True)
class Result:
    outcome: str
    criteria: tuple[CriterionResult, ...]
    advisories: tuple[Advisory, ...]
    window_closes_on: date | None
    assessed_on: date
    criteria_version: str = CRITERIA_VERSION

    @property
    def workup_outstanding(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if c.kind == "workup" and c.status != "pass")

    def by_id(self, criterion_id: str) -> CriterionResult:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    def days_left(self, on: date) -> int | None:
        """Days from ``on`` until the window closes (negative once closed); None without onset."""
        return None if self.window_closes_on is None else (self.window_closes_on - on).days

    def as_dict(self) -> dict:
        closes = self.window_closes_on
        return {
            "outcome": self.outcome,
            "criteria": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "text": c.text,
                    "status": c.status,
                    "reason": c.reason,
                    "topic": c.topic,
                    "answer": c.answer,
                }
                for c in self.criteria
            ],
            "advisories": [{"id": a.id, "message": a.message} for a in self.advisories],
            "window_closes_on": None if closes is None else closes.isoformat(),
            "assessed_on": self.assessed_on.isoformat(),
            "criteria_version": self.criteria_version,
        }


def outcome_from(statuses: Iterable[tuple[str, str]]) -> str:
    """The outcome rule over (kind, status) pairs. Work-up items never count: they are
    outstanding pre-procedure work."""
    return outcome_of({status for kind, status in statuses if kind != "workup"})


def outcome_of(counted: set[str]) -> str:
    """The outcome from the statuses of the indications and contraindications: ineligible if
    any fails, else incomplete if any is unknown, else eligible."""
    if "fail" in counted:
        return "ineligible"
    return "incomplete" if "unknown" in counted else "eligible"
