"""Vertebroplasty eligibility (SPEC section 7): a dictionary of facts in, a frozen result out.

Pure Python: no Django, no database and no clock. The caller passes the date (``today``), so a
result depends only on its inputs and tests need no time freezing.

``CRITERIA_VERSION`` is ``YEAR.N``. Bump it whenever the same facts could get a different status,
outcome, advisory or criterion text (a threshold, an allowed word, a rule or the seed wording
changes); N restarts at 1 in a new year. Rewording a reason alone does not bump it. Each submitted
referral stores its result with the version, so a bump never rewrites history.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

CRITERIA_VERSION = "2026.1"

LEVELS: tuple[str, ...] = (
    *(f"C{n}" for n in range(1, 8)),
    *(f"T{n}" for n in range(1, 13)),
    *(f"L{n}" for n in range(1, 6)),
    "S1",
)
TREATABLE_LEVELS = frozenset({"T11", "T12", "L1", "L2"})
CAUSES = ("osteoporotic", "traumatic", "malignant", "myeloma", "other")
OPIOID_RESPONSES = ("poor", "adequate", "not_trialled")
MODALITIES = ("MRI", "SPECT-CT", "CT", "XR", "BONE_SCAN")
COAGULOPATHY_VALUES = ("none", "corrected", "uncorrected")
INFECTION_VALUES = ("none", "local", "systemic")
WINDOW_DAYS = 21
DEFAULT_COAG_PROFILE_MAX_AGE_DAYS = 30
MIN_PAIN_SCORE = 7
KINDS = ("indication", "contraindication", "workup")
STATUSES = ("pass", "fail", "unknown")
OUTCOMES = ("eligible", "incomplete", "ineligible")

_LEVEL_ORDER = {level: i for i, level in enumerate(LEVELS)}
_LEVEL_NAMES = frozenset(LEVELS)
_MODALITY_NAMES = {"XR": "X-ray", "BONE_SCAN": "bone scan"}  # the rest read as they are


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    kind: str
    text: str  # shown to doctors: the wording of the practice's "For Referring Doctors" section


# fmt: off
CRITERIA: tuple[Criterion, ...] = tuple(Criterion(*row) for row in (
    ("level", "indication",
     "The fracture is in the thoracolumbar spinal segment T11, T12, L1 or L2."),
    ("osteoporotic", "indication", "The fracture is osteoporotic in origin."),
    ("pain_severity", "indication", "Severe pain (numeric rating ≥ 7/10) must be present."),
    ("opioid_refractory", "indication", "Symptoms must be poorly controlled by opiate analgesia."),
    ("pain_duration", "indication", "Pain duration should be three weeks or less."),
    ("acute_imaging", "indication", "Imaging evidence of an acute vertebral fracture is required "
     "(MRI preferred, or SPECT-CT if MRI unavailable)."),
    ("coagulopathy", "contraindication", "Uncorrected coagulopathy"),
    ("infection", "contraindication", "Infection (systemic or local)"),
    ("canal_compromise_deficit", "contraindication",
     "Spinal canal compromise with neurological deficit"),
    ("healed_fracture", "contraindication", "Chronic, healed fractures"),
    ("workup_mri", "workup", "MRI to confirm acuity and exclude canal compromise"),
    ("workup_coagulation", "workup", "Recent coagulation profile"),
    ("workup_anticoagulation", "workup", "Review of anticoagulation/antiplatelet therapy"),
))
# fmt: on


class FactsError(ValueError):
    """Bad facts; ``errors`` maps each bad field path to a plain message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))

    def __reduce__(self):
        # Default pickling would call FactsError(str); a Celery result needs the dict back.
        return (type(self), (self.errors,))


# Facts, ImagingStudy and Result are built on every check, so parse_facts and evaluate build them
# with _frozen (below) rather than through __init__, and they have no __slots__ for that reason.


@dataclass(frozen=True)
class ImagingStudy:
    modality: str
    performed_on: date | None = None
    acute_fracture: bool | None = None


@dataclass(frozen=True)
class Facts:
    """Validated facts; None means not known. ``imaging`` is None when not given, () when empty."""

    assessed_on: date
    levels: tuple[str, ...] = ()
    cause: str | None = None
    pain_score: int | None = None
    pain_onset: date | None = None
    opioid_response: str | None = None
    imaging: tuple[ImagingStudy, ...] | None = None
    mri_contraindicated: bool | None = None
    coagulopathy: str | None = None
    infection: str | None = None
    canal_compromise: bool | None = None
    neurological_deficit: bool | None = None
    healed_fracture: bool | None = None
    coag_profile_on: date | None = None
    anticoagulation_reviewed: bool | None = None


def _frozen(cls, fields: dict):
    """An instance of the frozen dataclass ``cls`` with ``fields`` (every field) as its __dict__.

    A frozen dataclass's __init__ sets each field through object.__setattr__: fifteen calls for
    Facts on every check. Handing over the whole dict is one call. The caller has already checked
    every value, and gives up the dict: it becomes the instance's. Instances are as immutable as
    ever (setting or deleting a field raises FrozenInstanceError) and compare, hash, pickle and
    copy as before: none of that goes through __init__ or __slots__.
    """
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)
    return instance


# Every field with its default, for _frozen; a required field (assessed_on, modality) holds
# dataclasses.MISSING here and the caller always sets it.
_FACTS_DEFAULTS = {name: field.default for name, field in Facts.__dataclass_fields__.items()}
_STUDY_DEFAULTS = {name: field.default for name, field in ImagingStudy.__dataclass_fields__.items()}


# --- parsing -------------------------------------------------------------------------------------
# A parser takes (raw, field, errors, assessed_on) and returns the value, or records an error and
# returns None, so parse_facts reports every bad field at once. raw is never None (null = missing).
# check() runs these on every request, so each value costs one call (no parser wraps a lambda).

# Strict: date.fromisoformat in 3.11 also takes "20260301" and week dates, so the shape (ASCII
# digits only) is checked first; for this shape fromisoformat is plain YYYY-MM-DD.
_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@lru_cache(maxsize=4096)  # the same few dates (this month's) recur in referral after referral
def _calendar_date(text: str) -> date | str:
    """The date ``text`` names, or why it does not name one."""
    if not _DATE_SHAPE.fullmatch(text):
        return "must be a date YYYY-MM-DD"
    try:
        return date.fromisoformat(text)
    except ValueError:
        return "is not a real date"


def _date(raw, field, errors, assessed_on):
    value = _calendar_date(raw) if isinstance(raw, str) else "must be a date YYYY-MM-DD"
    if isinstance(value, str):
        errors[field] = value
        return None
    # assessed_on is None while parsing assessed_on itself, or when it was bad (already reported).
    if assessed_on is not None and value > assessed_on:
        errors[field] = "is after assessed_on"
        return None
    return value


def _word(allowed):
    allowed_set = frozenset(allowed)
    message = "must be one of: " + ", ".join(allowed)

    def parse(raw, field, errors, assessed_on):
        # isinstance first: an unhashable value (a list) would raise TypeError on `in`.
        if isinstance(raw, str) and raw in allowed_set:
            return raw
        errors[field] = message
        return None

    return parse


def _boolean(raw, field, errors, assessed_on):
    if raw is True or raw is False:
        return raw
    errors[field] = "must be true or false"
    return None


def _pain_score(raw, field, errors, assessed_on):
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 10:
        return raw
    errors[field] = "must be a whole number from 0 to 10"
    return None


def _levels(raw, field, errors, assessed_on):
    if not isinstance(raw, (list, tuple)):
        errors[field] = "must be a list of spinal levels"
        return None
    found = set()
    for i, item in enumerate(raw):
        if isinstance(item, str) and item in _LEVEL_ORDER:
            found.add(item)
        else:
            errors[f"{field}[{i}]"] = "must be a spinal level C1 to C7, T1 to T12, L1 to L5 or S1"
    if len(found) < 2:  # most referrals give one level: nothing to put in order
        return tuple(found)
    return tuple(sorted(found, key=_LEVEL_ORDER.__getitem__))


_STUDY_PARSERS = {"modality": _word(MODALITIES), "performed_on": _date, "acute_fracture": _boolean}


def _imaging(raw, field, errors, assessed_on):
    if not isinstance(raw, (list, tuple)):
        errors[field] = "must be a list of imaging studies"
        return None
    studies = []
    for i, item in enumerate(raw):
        if not (type(item) is dict or isinstance(item, Mapping)):  # as in parse_facts
            errors[f"{field}[{i}]"] = "must be an object"
            continue
        # A study's problems are keyed by its own field names and only given their full path
        # ("imaging[0].performed_on") if there are any: most studies have none.
        values, problems = {}, {}
        for key, value in item.items():
            parser = _STUDY_PARSERS.get(key)
            if parser is None:
                problems[key] = "unknown field"
            elif value is not None:
                values[key] = parser(value, key, problems, assessed_on)
        if "modality" not in values:  # missing or null
            problems["modality"] = "is required"
        if problems:
            for key, message in problems.items():
                errors[f"{field}[{i}].{key}"] = message
        else:
            studies.append(_frozen(ImagingStudy, {**_STUDY_DEFAULTS, **values}))
    return tuple(studies)


_PARSERS = {
    "levels": _levels,
    "cause": _word(CAUSES),
    "pain_score": _pain_score,
    "pain_onset": _date,
    "opioid_response": _word(OPIOID_RESPONSES),
    "imaging": _imaging,
    "mri_contraindicated": _boolean,
    "coagulopathy": _word(COAGULOPATHY_VALUES),
    "infection": _word(INFECTION_VALUES),
    "canal_compromise": _boolean,
    "neurological_deficit": _boolean,
    "healed_fracture": _boolean,
    "coag_profile_on": _date,
    "anticoagulation_reviewed": _boolean,
}


def parse_facts(data: Mapping[str, object], *, today: date) -> Facts:
    """Validate JSON-decoded facts; raise FactsError naming every bad field."""
    # type() first: JSON gives plain dicts, and isinstance against an ABC is ten times slower.
    if not (type(data) is dict or isinstance(data, Mapping)):
        raise FactsError({"facts": "must be a JSON object"})
    errors: dict[str, str] = {}
    raw = data.get("assessed_on")
    assessed_on = today if raw is None else _date(raw, "assessed_on", errors, None)
    values = {**_FACTS_DEFAULTS, "assessed_on": assessed_on}
    for key, raw in data.items():
        parser = _PARSERS.get(key)
        if parser is None:
            if key != "assessed_on":
                errors[str(key)] = "unknown fact"
        elif raw is not None:
            values[key] = parser(raw, key, errors, assessed_on)
    if errors:
        raise FactsError(errors)
    return _frozen(Facts, values)


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    kind: str
    text: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    message: str


@dataclass(frozen=True)
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
                {"id": c.id, "kind": c.kind, "text": c.text, "status": c.status, "reason": c.reason}
                for c in self.criteria
            ],
            "advisories": [{"id": a.id, "message": a.message} for a in self.advisories],
            "window_closes_on": None if closes is None else closes.isoformat(),
            "assessed_on": self.assessed_on.isoformat(),
            "criteria_version": self.criteria_version,
        }


def outcome_from(statuses: Iterable[tuple[str, str]]) -> str:
    """The outcome rule over (kind, status) pairs; work-up never counts."""
    return _outcome({status for kind, status in statuses if kind != "workup"})


def _outcome(counted: set[str]) -> str:
    """The outcome from the statuses of the criteria that count (not work-up)."""
    if "fail" in counted:
        return "ineligible"
    return "incomplete" if "unknown" in counted else "eligible"


# --- criteria ------------------------------------------------------------------------------------
# A fact with a few values maps straight to (status, reason) through a table; None = not given.
# Any other criterion has a rule: it takes (facts, coag_max_age_days) and returns (status, reason).

# fmt: off
_TABLES = {
    "osteoporotic": ("cause", {
        None: ("unknown", "The cause of the fracture has not been given."),
        "osteoporotic": ("pass", "The fracture is recorded as osteoporotic."),
        "traumatic": ("fail", "The fracture is recorded as traumatic, not osteoporotic."),
        "malignant": ("fail", "The fracture is recorded as malignant, not osteoporotic."),
        "myeloma": ("fail", "The fracture is recorded as due to myeloma, not osteoporotic."),
        "other": ("fail", "The fracture is recorded as having a cause other than osteoporosis."),
    }),
    "opioid_refractory": ("opioid_response", {
        None: ("unknown", "The response to opiate analgesia has not been given."),
        "poor": ("pass", "Pain is recorded as poorly controlled by opiate analgesia."),
        "adequate": ("fail", "Pain is recorded as adequately controlled by opiate analgesia."),
        "not_trialled": ("fail", "Opiate analgesia has not been tried yet."),
    }),
    "coagulopathy": ("coagulopathy", {
        None: ("unknown", "Whether there is a coagulopathy has not been given."),
        "none": ("pass", "No coagulopathy is recorded."),
        "corrected": ("pass", "The coagulopathy is recorded as corrected."),
        "uncorrected": ("fail", "An uncorrected coagulopathy is recorded."),
    }),
    "infection": ("infection", {
        None: ("unknown", "Whether there is an infection has not been given."),
        "none": ("pass", "No infection is recorded."),
        "local": ("fail", "A local infection is recorded."),
        "systemic": ("fail", "A systemic infection is recorded."),
    }),
    "healed_fracture": ("healed_fracture", {
        None: ("unknown", "Whether the fracture is chronic and healed has not been given."),
        False: ("pass", "The fracture is not recorded as chronic and healed."),
        True: ("fail", "The fracture is recorded as chronic and healed."),
    }),
    "workup_anticoagulation": ("anticoagulation_reviewed", {
        None: ("unknown", "Whether anticoagulants and antiplatelets were reviewed is not given."),
        True: ("pass", "Anticoagulant and antiplatelet medicines have been reviewed."),
        False: ("fail", "Anticoagulant and antiplatelet medicines have not been reviewed yet."),
    }),
}
# fmt: on


_RULE_FOR = {}


def _rule(fn):
    _RULE_FOR[fn.__name__.removeprefix("_")] = fn
    return fn


def _join(words) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _ago(n: int) -> str:
    return "today" if n == 0 else f"{_days(n)} ago"


# The rules that word a number or a list of levels hand that value to a cached helper: the same
# values recur, and formatting the reason anew each time cost more than the rest of the rule.


@_rule
def _level(f, _):
    levels = f.levels
    # Cached only for what parse_facts gives, a tuple of level names: Facts built by hand could
    # hold a list (unhashable) or values that compare equal but read differently (1 and True).
    if type(levels) is tuple and _LEVEL_NAMES.issuperset(levels):
        return _level_from(levels)
    return _level_from.__wrapped__(levels)


@lru_cache(maxsize=1024)
def _level_from(levels: tuple[str, ...]) -> tuple[str, str]:
    if not levels:
        return "unknown", "No fracture level has been given."
    outside = [level for level in levels if level not in TREATABLE_LEVELS]
    status, shown, where = ("fail", outside, "outside") if outside else ("pass", levels, "within")
    if len(shown) == 1:
        return status, f"Level {shown[0]} is {where} T11 to L2."
    return status, f"Levels {_join(shown)} are {where} T11 to L2."


@_rule
def _pain_severity(f, _):
    return _pain_severity_from(f.pain_score)


@lru_cache(maxsize=64, typed=True)  # typed: 8, 8.0 and True would read differently
def _pain_severity_from(score: int | None) -> tuple[str, str]:
    if score is None:
        return "unknown", "No pain score has been given."
    status = "pass" if score >= MIN_PAIN_SCORE else "fail"
    return status, f"Pain is rated {score}/10; the criteria need {MIN_PAIN_SCORE}/10 or more."


@_rule
def _pain_duration(f, _):
    if f.pain_onset is None:
        return "unknown", "The date pain began has not been given."
    return _pain_duration_from((f.assessed_on - f.pain_onset).days)


@lru_cache(maxsize=1024)
def _pain_duration_from(days: int) -> tuple[str, str]:
    if days < 0:  # only reachable with Facts built by hand; parse_facts refuses it
        return "unknown", "The date pain began is after the assessment date."
    status = "pass" if days <= WINDOW_DAYS else "fail"
    return status, f"Pain began {_ago(days)}; the criteria allow up to {WINDOW_DAYS} days."


@_rule
def _acute_imaging(f, _):
    if not f.imaging:
        return "unknown", "No imaging has been given."
    spect_acute = False
    not_stated = None  # the first MRI or SPECT-CT with no acute finding recorded either way
    for study in f.imaging:
        if study.modality == "MRI" and study.acute_fracture is True:
            return "pass", "An MRI shows an acute fracture."
        if study.modality == "SPECT-CT":
            spect_acute = spect_acute or study.acute_fracture is True
        if study.modality in ("MRI", "SPECT-CT") and study.acute_fracture is None:
            not_stated = not_stated or study.modality
    if spect_acute and f.mri_contraindicated is True:
        return "pass", "A SPECT-CT shows an acute fracture and MRI is contraindicated."
    if spect_acute and f.mri_contraindicated is None:
        return "unknown", (
            "A SPECT-CT shows an acute fracture, but whether MRI is contraindicated is not given."
        )
    if not_stated:
        return "unknown", f"Whether the {not_stated} shows an acute fracture has not been given."
    if spect_acute:
        return "fail", "A SPECT-CT shows an acute fracture, but MRI is not contraindicated."
    names = list(dict.fromkeys(_MODALITY_NAMES.get(s.modality, s.modality) for s in f.imaging))
    shown = [name for name in names if name in ("MRI", "SPECT-CT")]
    if not shown:
        return "fail", (
            f"Only {_join(names)} imaging is given; an acute fracture must be shown on MRI, "
            "or on SPECT-CT if MRI is contraindicated."
        )
    return "fail", f"The {_join(shown)} {'shows' if len(shown) == 1 else 'show'} no acute fracture."


@_rule
def _canal_compromise_deficit(f, _):
    if f.canal_compromise is None:
        return "unknown", "Whether there is spinal canal compromise has not been given."
    if f.canal_compromise is False:
        return "pass", "No spinal canal compromise is recorded."
    if f.neurological_deficit is None:
        return "unknown", (
            "Spinal canal compromise is recorded, but whether there is a neurological deficit "
            "is not given."
        )
    if f.neurological_deficit:
        return "fail", "Spinal canal compromise is recorded with a neurological deficit."
    return "pass", "Spinal canal compromise is recorded without a neurological deficit."


@_rule
def _workup_mri(f, _):
    if not f.imaging:
        return "unknown", "No imaging has been given."
    for study in f.imaging:
        if study.modality == "MRI":
            return "pass", "An MRI is among the imaging given."
    return "fail", "No MRI is among the imaging given."


@_rule
def _workup_coagulation(f, max_age):
    if f.coag_profile_on is None:
        return "unknown", "The date of the latest coagulation profile has not been given."
    return _workup_coagulation_from((f.assessed_on - f.coag_profile_on).days, max_age)


@lru_cache(maxsize=1024, typed=True)
def _workup_coagulation_from(days: int, max_age: int) -> tuple[str, str]:
    if days < 0:  # only reachable with Facts built by hand
        return "unknown", "The coagulation profile is dated after the assessment date."
    status = "pass" if days <= max_age else "fail"
    return (
        status,
        f"The coagulation profile is from {_ago(days)}; up to {_days(max_age)} is accepted.",
    )


# evaluate shares CriterionResults (immutable) between results rather than build thirteen per
# check, which was most of its cost. A table criterion's results are built here, one per row and
# keyed by the fact's value; a rule's are built as each (status, reason) first turns up, up to
# _MEMO_SIZE of them (a few reasons carry a number of days, a pain score or levels).
_MEMO_SIZE = 512


def _evaluator(criterion: Criterion) -> tuple:
    """(criterion, fact, None, results by the fact's value) for a table criterion, else
    (criterion, None, rule, results by (status, reason), filled by evaluate)."""
    if criterion.id in _TABLES:
        fact, table = _TABLES[criterion.id]
        results = {
            value: CriterionResult(criterion.id, criterion.kind, criterion.text, *row)
            for value, row in table.items()
        }
        return criterion, fact, None, results
    return criterion, None, _RULE_FOR[criterion.id], {}


_RULES = tuple(_evaluator(criterion) for criterion in CRITERIA)
_WINDOW = timedelta(days=WINDOW_DAYS)

_ADVICE = {
    "neurological_deficit": "A neurological deficit is recorded: the patient needs urgent spinal "
    "or surgical review, not a routine referral.",
    "suspected_malignancy": "A suspected malignant fracture follows the pathological fracture "
    "pathway; vertebroplasty is at the interventional radiologist's discretion.",
    "traumatic_fracture": "Traumatic fractures are considered case by case by the interventional "
    "radiologist.",
    "canal_compromise_review": "Spinal canal compromise without a neurological deficit is "
    "recorded: the interventional radiologist will review the canal on MRI.",
}
# Built once: an Advisory is immutable, so results can share these.
_FIXED_ADVISORIES = {key: Advisory(key, text) for key, text in _ADVICE.items()}


def _advisories(f: Facts) -> tuple[Advisory, ...]:
    found = []
    if f.neurological_deficit is True:
        found.append(_FIXED_ADVISORIES["neurological_deficit"])
    if f.cause in ("malignant", "myeloma"):
        found.append(_FIXED_ADVISORIES["suspected_malignancy"])
    if f.cause == "traumatic":
        found.append(_FIXED_ADVISORIES["traumatic_fracture"])
    if len(f.levels) > 2:
        message = (
            f"{len(f.levels)} levels are recorded; treating more than two is for the "
            "interventional radiologist to decide."
        )
        found.append(Advisory("multiple_levels", message))
    if f.pain_onset is not None and f.imaging:
        early = []  # a loop, not a list comprehension: this runs for nearly every referral
        for s in f.imaging:
            if s.performed_on is not None and s.performed_on < f.pain_onset:
                early.append(
                    f"{_MODALITY_NAMES.get(s.modality, s.modality)} of {s.performed_on.isoformat()}"
                )
        if early:
            message = (
                f"The {_join(early)} {'was' if len(early) == 1 else 'were'} done before pain "
                f"began on {f.pain_onset.isoformat()}, so may not show the current fracture."
            )
            found.append(Advisory("imaging_before_onset", message))
    if f.canal_compromise is True and f.neurological_deficit is False:
        found.append(_FIXED_ADVISORIES["canal_compromise_review"])
    return tuple(found)


def evaluate(facts: Facts, *, coag_max_age_days: int = DEFAULT_COAG_PROFILE_MAX_AGE_DAYS) -> Result:
    """Assess facts against CRITERIA; never raises for Facts from parse_facts."""
    if isinstance(coag_max_age_days, bool) or not isinstance(coag_max_age_days, int):
        raise TypeError("coag_max_age_days must be an int")  # a settings mistake, not bad facts
    results = []
    for criterion, fact, rule, shared in _RULES:
        if rule is None:  # a table criterion: a value not in the table reads as not given
            result = shared.get(getattr(facts, fact)) or shared[None]
        else:
            found = rule(facts, coag_max_age_days)  # (status, reason)
            result = shared.get(found)
            if result is None:
                result = CriterionResult(criterion.id, criterion.kind, criterion.text, *found)
                if len(shared) < _MEMO_SIZE:
                    shared[found] = result
        results.append(result)
    results = tuple(results)
    onset = facts.pain_onset
    return _frozen(
        Result,
        {
            "outcome": _outcome({r.status for r in results if r.kind != "workup"}),
            "criteria": results,
            "advisories": _advisories(facts),
            "window_closes_on": None if onset is None else onset + _WINDOW,
            "assessed_on": facts.assessed_on,
            "criteria_version": CRITERIA_VERSION,
        },
    )


def check(
    data: object, *, today: date, coag_max_age_days: int = DEFAULT_COAG_PROFILE_MAX_AGE_DAYS
) -> Result:
    """parse_facts then evaluate: the one call the form, the API and the command share."""
    return evaluate(parse_facts(data, today=today), coag_max_age_days=coag_max_age_days)
