"""Vertebroplasty eligibility (SPEC section 7): a dictionary of facts in, a frozen result out.

Pure Python: no Django, no database and no clock. The caller passes the date (``today``), so a
result depends only on its inputs and tests need no time freezing.

``CRITERIA_VERSION`` is ``YEAR.N``. Bump it whenever the same facts could get a different status,
outcome, advisory or criterion text (a threshold, an allowed word, a rule or the seed wording
changes); N restarts at 1 in a new year. Rewording a reason alone does not bump it. Each submitted
referral stores its result with the version, so a bump never rewrites history.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

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


@dataclass(frozen=True, slots=True)
class ImagingStudy:
    modality: str
    performed_on: date | None = None
    acute_fracture: bool | None = None


@dataclass(frozen=True, slots=True)
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


# --- parsing -------------------------------------------------------------------------------------
# A parser takes (raw, field, errors, assessed_on) and returns the value, or records an error and
# returns None, so parse_facts reports every bad field at once. raw is never None (null = missing).


def _date(raw, field, errors, assessed_on):
    # Strict by hand: date.fromisoformat in 3.11 also takes "20260301" and week dates.
    if not (isinstance(raw, str) and len(raw) == 10 and raw[4] == raw[7] == "-"):
        errors[field] = "must be a date YYYY-MM-DD"
        return None
    digits = raw[:4] + raw[5:7] + raw[8:]
    if not (digits.isascii() and digits.isdigit()):
        errors[field] = "must be a date YYYY-MM-DD"
        return None
    try:
        value = date(int(raw[:4]), int(raw[5:7]), int(raw[8:]))
    except ValueError:
        errors[field] = "is not a real date"
        return None
    # assessed_on is None while parsing assessed_on itself, or when it was bad (already reported).
    if assessed_on is not None and value > assessed_on:
        errors[field] = "is after assessed_on"
        return None
    return value


def _simple(accept, message):
    def parse(raw, field, errors, assessed_on):
        if accept(raw):
            return raw
        errors[field] = message
        return None

    return parse


def _word(allowed):
    allowed_set = frozenset(allowed)
    # isinstance first: an unhashable value (a list) would raise TypeError on `in`.
    return _simple(
        lambda raw: isinstance(raw, str) and raw in allowed_set,
        "must be one of: " + ", ".join(allowed),
    )


_boolean = _simple(lambda raw: raw is True or raw is False, "must be true or false")
_pain_score = _simple(
    lambda raw: isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 10,
    "must be a whole number from 0 to 10",
)


def _levels(raw, field, errors, assessed_on):
    if not isinstance(raw, list | tuple):
        errors[field] = "must be a list of spinal levels"
        return None
    found = set()
    for i, item in enumerate(raw):
        if isinstance(item, str) and item in _LEVEL_ORDER:
            found.add(item)
        else:
            errors[f"{field}[{i}]"] = "must be a spinal level C1 to C7, T1 to T12, L1 to L5 or S1"
    return tuple(sorted(found, key=_LEVEL_ORDER.__getitem__))


_STUDY_PARSERS = {"modality": _word(MODALITIES), "performed_on": _date, "acute_fracture": _boolean}


def _imaging(raw, field, errors, assessed_on):
    if not isinstance(raw, list | tuple):
        errors[field] = "must be a list of imaging studies"
        return None
    studies = []
    for i, item in enumerate(raw):
        path = f"{field}[{i}]"
        if not isinstance(item, Mapping):
            errors[path] = "must be an object"
            continue
        values = {}
        for key, value in item.items():
            parser = _STUDY_PARSERS.get(key)
            if parser is None:
                errors[f"{path}.{key}"] = "unknown field"
            elif value is not None:
                values[key] = parser(value, f"{path}.{key}", errors, assessed_on)
        if item.get("modality") is None:
            errors[f"{path}.modality"] = "is required"
        elif values["modality"] is not None:
            studies.append(ImagingStudy(**values))
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
    if not isinstance(data, Mapping):
        raise FactsError({"facts": "must be a JSON object"})
    errors: dict[str, str] = {}
    raw = data.get("assessed_on")
    assessed_on = today if raw is None else _date(raw, "assessed_on", errors, None)
    values = {}
    for key, raw in data.items():
        parser = _PARSERS.get(key)
        if parser is None:
            if key != "assessed_on":
                errors[str(key)] = "unknown fact"
        elif raw is not None:
            values[key] = parser(raw, key, errors, assessed_on)
    if errors:
        raise FactsError(errors)
    return Facts(assessed_on=assessed_on, **values)


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
    unknown = False
    for kind, status in statuses:
        if kind != "workup":
            if status == "fail":
                return "ineligible"
            unknown = unknown or status == "unknown"
    return "incomplete" if unknown else "eligible"


# --- criteria ------------------------------------------------------------------------------------
# A rule takes (facts, coag_max_age_days) and returns (status, reason); evaluate loops over them.
# A fact with a few values maps straight to (status, reason) through a table; None = not given.

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


def _from_table(field, table):
    return lambda f, _: table.get(getattr(f, field), table[None])


_RULE_FOR = {criterion_id: _from_table(*spec) for criterion_id, spec in _TABLES.items()}


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


@_rule
def _level(f, _):
    if not f.levels:
        return "unknown", "No fracture level has been given."
    outside = [level for level in f.levels if level not in TREATABLE_LEVELS]
    status, shown, where = ("fail", outside, "outside") if outside else ("pass", f.levels, "within")
    if len(shown) == 1:
        return status, f"Level {shown[0]} is {where} T11 to L2."
    return status, f"Levels {_join(shown)} are {where} T11 to L2."


@_rule
def _pain_severity(f, _):
    if f.pain_score is None:
        return "unknown", "No pain score has been given."
    status = "pass" if f.pain_score >= MIN_PAIN_SCORE else "fail"
    return (
        status,
        f"Pain is rated {f.pain_score}/10; the criteria need {MIN_PAIN_SCORE}/10 or more.",
    )


@_rule
def _pain_duration(f, _):
    if f.pain_onset is None:
        return "unknown", "The date pain began has not been given."
    days = (f.assessed_on - f.pain_onset).days
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
    if any(study.modality == "MRI" for study in f.imaging):
        return "pass", "An MRI is among the imaging given."
    return "fail", "No MRI is among the imaging given."


@_rule
def _workup_coagulation(f, max_age):
    if f.coag_profile_on is None:
        return "unknown", "The date of the latest coagulation profile has not been given."
    days = (f.assessed_on - f.coag_profile_on).days
    if days < 0:  # only reachable with Facts built by hand
        return "unknown", "The coagulation profile is dated after the assessment date."
    status = "pass" if days <= max_age else "fail"
    return (
        status,
        f"The coagulation profile is from {_ago(days)}; up to {_days(max_age)} is accepted.",
    )


_RULES = tuple((criterion, _RULE_FOR[criterion.id]) for criterion in CRITERIA)

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


def _advisories(f: Facts) -> tuple[Advisory, ...]:
    found = []
    if f.neurological_deficit is True:
        found.append(Advisory("neurological_deficit", _ADVICE["neurological_deficit"]))
    if f.cause in ("malignant", "myeloma"):
        found.append(Advisory("suspected_malignancy", _ADVICE["suspected_malignancy"]))
    if f.cause == "traumatic":
        found.append(Advisory("traumatic_fracture", _ADVICE["traumatic_fracture"]))
    if len(f.levels) > 2:
        message = (
            f"{len(f.levels)} levels are recorded; treating more than two is for the "
            "interventional radiologist to decide."
        )
        found.append(Advisory("multiple_levels", message))
    if f.pain_onset is not None and f.imaging:
        early = [
            f"{_MODALITY_NAMES.get(s.modality, s.modality)} of {s.performed_on.isoformat()}"
            for s in f.imaging
            if s.performed_on is not None and s.performed_on < f.pain_onset
        ]
        if early:
            message = (
                f"The {_join(early)} {'was' if len(early) == 1 else 'were'} done before pain "
                f"began on {f.pain_onset.isoformat()}, so may not show the current fracture."
            )
            found.append(Advisory("imaging_before_onset", message))
    if f.canal_compromise is True and f.neurological_deficit is False:
        found.append(Advisory("canal_compromise_review", _ADVICE["canal_compromise_review"]))
    return tuple(found)


def evaluate(facts: Facts, *, coag_max_age_days: int = DEFAULT_COAG_PROFILE_MAX_AGE_DAYS) -> Result:
    """Assess facts against CRITERIA; never raises for Facts from parse_facts."""
    if isinstance(coag_max_age_days, bool) or not isinstance(coag_max_age_days, int):
        raise TypeError("coag_max_age_days must be an int")  # a settings mistake, not bad facts
    results = tuple(
        [
            CriterionResult(c.id, c.kind, c.text, *rule(facts, coag_max_age_days))
            for c, rule in _RULES
        ]
    )
    onset = facts.pain_onset
    return Result(
        outcome=outcome_from([(r.kind, r.status) for r in results]),
        criteria=results,
        advisories=_advisories(facts),
        window_closes_on=None if onset is None else onset + timedelta(days=WINDOW_DAYS),
        assessed_on=facts.assessed_on,
    )


def check(
    data: object, *, today: date, coag_max_age_days: int = DEFAULT_COAG_PROFILE_MAX_AGE_DAYS
) -> Result:
    """parse_facts then evaluate: the one call the form, the API and the command share."""
    return evaluate(parse_facts(data, today=today), coag_max_age_days=coag_max_age_days)
