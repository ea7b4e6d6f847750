"""The facts an assessment takes (SPEC section 7), their allowed values, and their validation.

Every key is optional and None means "not known". The allowed values carry the words the forms
show for them, so the referral's model choices are derived from here and cannot drift.
"""

from collections.abc import Mapping
from datetime import date
from typing import NamedTuple

LEVELS: tuple[str, ...] = (
    *(f"C{n}" for n in range(1, 8)),
    *(f"T{n}" for n in range(1, 13)),
    *(f"L{n}" for n in range(1, 6)),
    "S1",
)

# value -> the label the forms use
CAUSE_LABELS = {
    "osteoporotic": "Osteoporotic",
    "traumatic": "Traumatic",
    "malignant": "Malignant (metastatic)",
    "myeloma": "Myeloma",
    "other": "Other",
}
OPIOID_RESPONSE_LABELS = {
    "poor": "Poorly controlled despite opiates",
    "adequate": "Adequately controlled by opiates",
    "not_trialled": "Opiates not yet tried",
}
MODALITY_LABELS = {
    "MRI": "MRI",
    "SPECT-CT": "SPECT-CT",
    "CT": "CT",
    "XR": "X-ray",
    "BONE_SCAN": "Bone scan",
}
COAGULOPATHY_LABELS = {
    "none": "None",
    "corrected": "Present, corrected",
    "uncorrected": "Present, not corrected",
}
INFECTION_LABELS = {"none": "None", "local": "Local", "systemic": "Systemic"}

CAUSES = tuple(CAUSE_LABELS)
OPIOID_RESPONSES = tuple(OPIOID_RESPONSE_LABELS)
MODALITIES = tuple(MODALITY_LABELS)
COAGULOPATHY_VALUES = tuple(COAGULOPATHY_LABELS)
INFECTION_VALUES = tuple(INFECTION_LABELS)


# Facts and studies are immutable records made on every check: NamedTuples, which build in a
# third of the time of a frozen dataclass (bench/README.md, "rules").


class ImagingStudy(NamedTuple):
    modality: str
    performed_on: date | None = None
    acute_fracture: bool | None = None


class Facts(NamedTuple):
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


class FactsError(ValueError):
    """Bad facts; ``errors`` maps each bad field path to a plain message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))

    def __reduce__(self):
        # Default pickling would call FactsError(str); a Celery result needs the dict back.
        return (type(self), (self.errors,))


# --- validation ------------------------------------------------------------------------------
# Each fact by the kind of value it takes (the "values" column of SPEC section 7's table). A bad
# value is recorded in `errors` under its field's path and validation goes on, so one FactsError
# names every bad field at once.

WORDS = {
    "cause": CAUSES,
    "opioid_response": OPIOID_RESPONSES,
    "coagulopathy": COAGULOPATHY_VALUES,
    "infection": INFECTION_VALUES,
}
KIND_OF_FACT = {
    **dict.fromkeys(WORDS, "word"),
    **dict.fromkeys(("pain_onset", "coag_profile_on"), "date"),
    **dict.fromkeys(
        (
            "mri_contraindicated",
            "canal_compromise",
            "neurological_deficit",
            "healed_fracture",
            "anticoagulation_reviewed",
        ),
        "yes_no",
    ),  # fmt: skip
    "pain_score": "pain_score",
    "levels": "levels",
    "imaging": "imaging",
    "assessed_on": "assessed_on",  # read first, by parse_facts
}
_ALLOWED = {key: frozenset(values) for key, values in WORDS.items()}
_ONE_OF = {key: "must be one of: " + ", ".join(values) for key, values in WORDS.items()}
_LEVEL_ORDER = {level: i for i, level in enumerate(LEVELS)}


def _date(raw, field, errors, assessed_on):
    # Only YYYY-MM-DD: date.fromisoformat also reads "20260301" and week dates ("2026-W10-1"),
    # which do not have a dash at both places.
    if not (isinstance(raw, str) and len(raw) == 10 and raw[4] == raw[7] == "-" and raw.isascii()):
        errors[field] = "must be a date YYYY-MM-DD"
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        errors[field] = "is not a real date"
        return None
    # assessed_on is None while parsing assessed_on itself, or when it was bad (already reported).
    if assessed_on is not None and value > assessed_on:
        errors[field] = "is after assessed_on"
        return None
    return value


def _levels(raw, field, errors):
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
    return tuple(sorted(found, key=_LEVEL_ORDER.__getitem__))  # spinal order


_MODALITY_SET = frozenset(MODALITIES)
_ONE_OF_MODALITIES = "must be one of: " + ", ".join(MODALITIES)


def _imaging(raw, field, errors, assessed_on):
    if not isinstance(raw, (list, tuple)):
        errors[field] = "must be a list of imaging studies"
        return None
    studies = []
    for i, item in enumerate(raw):
        if type(item) is not dict and not isinstance(item, Mapping):
            errors[f"{field}[{i}]"] = "must be an object"
            continue
        # A study's problems are keyed by its own field names, then given their full path.
        problems = {}
        modality = item.get("modality")
        if modality is None:
            problems["modality"] = "is required"
        elif not (isinstance(modality, str) and modality in _MODALITY_SET):
            problems["modality"] = _ONE_OF_MODALITIES
        performed_on = item.get("performed_on")
        if performed_on is not None:
            performed_on = _date(performed_on, "performed_on", problems, assessed_on)
        acute = item.get("acute_fracture")
        if not (acute is None or acute is True or acute is False):
            problems["acute_fracture"] = "must be true or false"
        for key in item:
            if key not in ("modality", "performed_on", "acute_fracture"):
                problems[key] = "unknown field"
        if problems:
            for key, message in problems.items():
                errors[f"{field}[{i}].{key}"] = message
        else:
            studies.append(ImagingStudy(modality, performed_on, acute))
    return tuple(studies)


def parse_facts(data: Mapping[str, object], *, today: date) -> Facts:
    """Validate JSON-decoded facts; raise FactsError naming every bad field."""
    if type(data) is not dict and not isinstance(data, Mapping):  # JSON gives dicts: ask that first
        raise FactsError({"facts": "must be a JSON object"})
    errors: dict[str, str] = {}
    raw = data.get("assessed_on")
    assessed_on = today if raw is None else _date(raw, "assessed_on", errors, None)
    values = {}
    for key, raw in data.items():
        kind = KIND_OF_FACT.get(key)
        if kind is None:
            errors[str(key)] = "unknown fact"
        elif raw is None or kind == "assessed_on":  # null means not known
            continue
        elif kind == "yes_no":
            if raw is True or raw is False:
                values[key] = raw
            else:
                errors[key] = "must be true or false"
        elif kind == "word":
            if isinstance(raw, str) and raw in _ALLOWED[key]:
                values[key] = raw
            else:
                errors[key] = _ONE_OF[key]
        elif kind == "date":
            values[key] = _date(raw, key, errors, assessed_on)
        elif kind == "pain_score":
            if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 10:
                values[key] = raw
            else:
                errors[key] = "must be a whole number from 0 to 10"
        elif kind == "levels":
            values[key] = _levels(raw, key, errors)
        else:
            values[key] = _imaging(raw, key, errors, assessed_on)
    if errors:
        raise FactsError(errors)
    return Facts(assessed_on, **values)
