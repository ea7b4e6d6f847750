"""The practice's referral criteria (SPEC section 7), one paragraph each, in the order shown.

Each criterion is its row of the table (id, kind, and the text doctors read) and a function of
the facts that gives its result: a status (pass is favourable, fail unfavourable, unknown when
the facts do not say) and one plain sentence of reason. Results whose reason is always the same
are written out once, beside their criterion; a criterion read from one fact is just a table of
them. Advisories ride beside the result and never change the outcome.
"""

from collections.abc import Callable

from eligibility.facts import Facts
from eligibility.result import Advisory, CriterionResult

TREATABLE_LEVELS = frozenset({"T11", "T12", "L1", "L2"})
WINDOW_DAYS = 21
MIN_PAIN_SCORE = 7
DEFAULT_COAG_PROFILE_MAX_AGE_DAYS = 30
NOT_KNOWN = "not known"


class Criterion:
    """One row of the criteria table, and ``assess(facts, coag_max_age_days)``, its result."""

    __slots__ = ("id", "kind", "text", "topic", "assess")

    def __init__(self, id: str, kind: str, text: str, topic: str):
        self.id = id
        self.kind = kind  # indication, contraindication or workup
        self.text = text  # the wording of the practice's "For Referring Doctors" section
        # What it is about, in a word or two, before the facts' answer: "Infection: systemic".
        self.topic = topic
        self.assess: Callable[[Facts, int], CriterionResult] | None = None

    def __repr__(self):
        return f"Criterion({self.id!r})"

    def result(self, status: str, reason: str, answer: str = NOT_KNOWN) -> CriterionResult:
        """`answer` is what the facts say, in a few words after the topic ("none recorded")."""
        return CriterionResult(self.id, self.kind, self.text, status, reason, self.topic, answer)

    def table(self, rows: dict) -> dict:
        """The results for each value (or key) in rows, which maps it to (status, reason) or
        (status, reason, answer); the answer is "not known" when not given."""
        return {key: self.result(*row) for key, row in rows.items()}

    def assessed_by(self, function):
        """Decorator: `function` assesses this criterion."""
        self.assess = function
        return function


def _join(words) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _ago(n: int) -> str:
    return "today" if n == 0 else f"{_days(n)} ago"


# How a modality reads inside a sentence ("Only X-ray and bone scan imaging is given").
_IN_A_SENTENCE = {"XR": "X-ray", "BONE_SCAN": "bone scan"}


def _modality(code: str) -> str:
    return _IN_A_SENTENCE.get(code, code)


# --- indications -------------------------------------------------------------------------------

LEVEL = Criterion(
    "level",
    "indication",
    "The fracture is in the thoracolumbar spinal segment T11, T12, L1 or L2.",
    "Fracture level",
)
NO_LEVEL = LEVEL.result("unknown", "No fracture level has been given.")


@LEVEL.assessed_by
def level(f: Facts, _max_age: int) -> CriterionResult:
    if not f.levels:
        return NO_LEVEL
    outside = [lv for lv in f.levels if lv not in TREATABLE_LEVELS]
    status, shown, where = ("fail", outside, "outside") if outside else ("pass", f.levels, "within")
    answer = ", ".join(f.levels)
    if len(shown) == 1:
        return LEVEL.result(status, f"Level {shown[0]} is {where} T11 to L2.", answer)
    return LEVEL.result(status, f"Levels {_join(shown)} are {where} T11 to L2.", answer)


OSTEOPOROTIC = Criterion(
    "osteoporotic", "indication", "The fracture is osteoporotic in origin.", "Cause"
)
BY_CAUSE = OSTEOPOROTIC.table({
    None: ("unknown", "The cause of the fracture has not been given."),
    "osteoporotic": ("pass", "The fracture is recorded as osteoporotic.", "osteoporotic"),
    "traumatic": ("fail", "The fracture is recorded as traumatic, not osteoporotic.",
                  "traumatic"),
    "malignant": ("fail", "The fracture is recorded as malignant, not osteoporotic.",
                  "malignant"),
    "myeloma": ("fail", "The fracture is recorded as due to myeloma, not osteoporotic.",
                "myeloma"),
    "other": ("fail", "The fracture is recorded as having a cause other than osteoporosis.",
              "other than osteoporosis"),
})  # fmt: skip


@OSTEOPOROTIC.assessed_by
def osteoporotic(f: Facts, _max_age: int) -> CriterionResult:
    # A value not in a table (only Facts built by hand have one) reads as not given.
    return BY_CAUSE.get(f.cause) or BY_CAUSE[None]


PAIN_SEVERITY = Criterion(
    "pain_severity", "indication", "Severe pain (numeric rating ≥ 7/10) must be present.",
    "Pain score",
)  # fmt: skip
BY_PAIN_SCORE = PAIN_SEVERITY.table({
    None: ("unknown", "No pain score has been given."),
    **{score: ("pass" if score >= MIN_PAIN_SCORE else "fail",
               f"Pain is rated {score}/10; the criteria need {MIN_PAIN_SCORE}/10 or more.",
               f"{score}/10")
       for score in range(11)},
})  # fmt: skip


@PAIN_SEVERITY.assessed_by
def pain_severity(f: Facts, _max_age: int) -> CriterionResult:
    return BY_PAIN_SCORE.get(f.pain_score) or BY_PAIN_SCORE[None]


OPIOID_REFRACTORY = Criterion(
    "opioid_refractory", "indication", "Symptoms must be poorly controlled by opiate analgesia.",
    "Pain on opiates",
)  # fmt: skip
BY_OPIOID_RESPONSE = OPIOID_REFRACTORY.table({
    None: ("unknown", "The response to opiate analgesia has not been given."),
    "poor": ("pass", "Pain is recorded as poorly controlled by opiate analgesia.",
             "poorly controlled"),
    "adequate": ("fail", "Pain is recorded as adequately controlled by opiate analgesia.",
                 "adequately controlled"),
    "not_trialled": ("fail", "Opiate analgesia has not been tried yet.", "opiates not yet tried"),
})  # fmt: skip


@OPIOID_REFRACTORY.assessed_by
def opioid_refractory(f: Facts, _max_age: int) -> CriterionResult:
    return BY_OPIOID_RESPONSE.get(f.opioid_response) or BY_OPIOID_RESPONSE[None]


PAIN_DURATION = Criterion(
    "pain_duration", "indication", "Pain duration should be three weeks or less.", "Pain began"
)
NO_ONSET = PAIN_DURATION.result("unknown", "The date pain began has not been given.")
ONSET_AFTER_ASSESSMENT = PAIN_DURATION.result(
    "unknown", "The date pain began is after the assessment date.", "after the assessment date"
)


@PAIN_DURATION.assessed_by
def pain_duration(f: Facts, _max_age: int) -> CriterionResult:
    if f.pain_onset is None:
        return NO_ONSET
    days = (f.assessed_on - f.pain_onset).days
    if days < 0:  # only reachable with Facts built by hand; parse_facts refuses it
        return ONSET_AFTER_ASSESSMENT
    status = "pass" if days <= WINDOW_DAYS else "fail"
    return PAIN_DURATION.result(
        status, f"Pain began {_ago(days)}; the criteria allow up to {WINDOW_DAYS} days.", _ago(days)
    )


ACUTE_IMAGING = Criterion(
    "acute_imaging",
    "indication",
    "Imaging evidence of an acute vertebral fracture is required (MRI preferred, or SPECT-CT if "
    "MRI unavailable).",
    "Acute fracture on imaging",
)
IMAGING = ACUTE_IMAGING.table({
    "none": ("unknown", "No imaging has been given.", "no imaging given"),
    "mri_acute": ("pass", "An MRI shows an acute fracture.", "shown on MRI"),
    "spect_acute": ("pass", "A SPECT-CT shows an acute fracture and MRI is contraindicated.",
                    "shown on SPECT-CT, MRI contraindicated"),
    "spect_acute_mri_unknown": ("unknown", "A SPECT-CT shows an acute fracture, but whether MRI "
                                "is contraindicated is not given.",
                                "shown on SPECT-CT; whether MRI is contraindicated not known"),
    "spect_acute_mri_possible": ("fail", "A SPECT-CT shows an acute fracture, but MRI is not "
                                 "contraindicated.", "shown on SPECT-CT only, MRI possible"),
})  # fmt: skip


@ACUTE_IMAGING.assessed_by
def acute_imaging(f: Facts, _max_age: int) -> CriterionResult:
    """An MRI with an acute fracture; or a SPECT-CT with one when MRI is contraindicated."""
    if not f.imaging:
        return IMAGING["none"]
    spect_acute = False
    not_stated = None  # the first MRI or SPECT-CT with no acute finding recorded either way
    for study in f.imaging:
        if study.modality == "MRI" and study.acute_fracture is True:
            return IMAGING["mri_acute"]
        if study.modality == "SPECT-CT":
            spect_acute = spect_acute or study.acute_fracture is True
        if study.modality in ("MRI", "SPECT-CT") and study.acute_fracture is None:
            not_stated = not_stated or study.modality
    if spect_acute and f.mri_contraindicated is True:
        return IMAGING["spect_acute"]
    if spect_acute and f.mri_contraindicated is None:
        return IMAGING["spect_acute_mri_unknown"]
    if not_stated:
        return ACUTE_IMAGING.result(
            "unknown",
            f"Whether the {not_stated} shows an acute fracture has not been given.",
            f"not stated on the {not_stated}",
        )
    if spect_acute:
        return IMAGING["spect_acute_mri_possible"]
    names = list(dict.fromkeys(_modality(s.modality) for s in f.imaging))
    shown = [name for name in names if name in ("MRI", "SPECT-CT")]
    if not shown:
        return ACUTE_IMAGING.result(
            "fail",
            f"Only {_join(names)} imaging is given; an acute fracture must be shown on MRI, or "
            "on SPECT-CT if MRI is contraindicated.",
            f"not shown ({_join(names)} only)",
        )
    verb = "shows" if len(shown) == 1 else "show"
    return ACUTE_IMAGING.result(
        "fail", f"The {_join(shown)} {verb} no acute fracture.", f"none on the {_join(shown)}"
    )


# --- contraindications -------------------------------------------------------------------------

COAGULOPATHY = Criterion(
    "coagulopathy", "contraindication", "Uncorrected coagulopathy", "Coagulopathy"
)
BY_COAGULOPATHY = COAGULOPATHY.table({
    None: ("unknown", "Whether there is a coagulopathy has not been given."),
    "none": ("pass", "No coagulopathy is recorded.", "none recorded"),
    "corrected": ("pass", "The coagulopathy is recorded as corrected.", "corrected"),
    "uncorrected": ("fail", "An uncorrected coagulopathy is recorded.", "uncorrected"),
})  # fmt: skip


@COAGULOPATHY.assessed_by
def coagulopathy(f: Facts, _max_age: int) -> CriterionResult:
    return BY_COAGULOPATHY.get(f.coagulopathy) or BY_COAGULOPATHY[None]


INFECTION = Criterion("infection", "contraindication", "Infection (systemic or local)", "Infection")
BY_INFECTION = INFECTION.table({
    None: ("unknown", "Whether there is an infection has not been given."),
    "none": ("pass", "No infection is recorded.", "none recorded"),
    "local": ("fail", "A local infection is recorded.", "local"),
    "systemic": ("fail", "A systemic infection is recorded.", "systemic"),
})  # fmt: skip


@INFECTION.assessed_by
def infection(f: Facts, _max_age: int) -> CriterionResult:
    return BY_INFECTION.get(f.infection) or BY_INFECTION[None]


CANAL = Criterion(
    "canal_compromise_deficit", "contraindication",
    "Spinal canal compromise with neurological deficit", "Spinal canal compromise",
)  # fmt: skip
# By (canal compromise, neurological deficit); a deficit matters only with compromise.
BY_CANAL = CANAL.table({
    **dict.fromkeys(((None, None), (None, True), (None, False)), (
        "unknown", "Whether there is spinal canal compromise has not been given.")),
    **dict.fromkeys(((False, None), (False, True), (False, False)), (
        "pass", "No spinal canal compromise is recorded.", "none recorded")),
    (True, None): ("unknown", "Spinal canal compromise is recorded, but whether there is a "
                   "neurological deficit is not given.", "present; deficit not known"),
    (True, True): ("fail", "Spinal canal compromise is recorded with a neurological deficit.",
                   "present, with neurological deficit"),
    (True, False): ("pass", "Spinal canal compromise is recorded without a neurological deficit.",
                    "present, no neurological deficit"),
})  # fmt: skip


@CANAL.assessed_by
def canal_compromise_deficit(f: Facts, _max_age: int) -> CriterionResult:
    return BY_CANAL.get((f.canal_compromise, f.neurological_deficit)) or BY_CANAL[(None, None)]


HEALED_FRACTURE = Criterion(
    "healed_fracture", "contraindication", "Chronic, healed fractures", "Healed fracture"
)
BY_HEALED = HEALED_FRACTURE.table({
    None: ("unknown", "Whether the fracture is chronic and healed has not been given."),
    False: ("pass", "The fracture is not recorded as chronic and healed.", "no"),
    True: ("fail", "The fracture is recorded as chronic and healed.", "yes"),
})  # fmt: skip


@HEALED_FRACTURE.assessed_by
def healed_fracture(f: Facts, _max_age: int) -> CriterionResult:
    return BY_HEALED.get(f.healed_fracture) or BY_HEALED[None]


# --- pre-procedure work-up (never changes the outcome) ----------------------------------------

WORKUP_MRI = Criterion(
    "workup_mri", "workup", "MRI to confirm acuity and exclude canal compromise", "MRI"
)
MRI = WORKUP_MRI.table({
    "no_imaging": ("unknown", "No imaging has been given.", "no imaging given"),
    "mri": ("pass", "An MRI is among the imaging given.", "done"),
    "no_mri": ("fail", "No MRI is among the imaging given.", "not done"),
})  # fmt: skip


@WORKUP_MRI.assessed_by
def workup_mri(f: Facts, _max_age: int) -> CriterionResult:
    if not f.imaging:
        return MRI["no_imaging"]
    for study in f.imaging:
        if study.modality == "MRI":
            return MRI["mri"]
    return MRI["no_mri"]


WORKUP_COAGULATION = Criterion(
    "workup_coagulation", "workup", "Recent coagulation profile", "Coagulation profile"
)
NO_COAG_PROFILE = WORKUP_COAGULATION.result(
    "unknown", "The date of the latest coagulation profile has not been given."
)
COAG_AFTER_ASSESSMENT = WORKUP_COAGULATION.result(
    "unknown",
    "The coagulation profile is dated after the assessment date.",
    "after the assessment date",
)


@WORKUP_COAGULATION.assessed_by
def workup_coagulation(f: Facts, max_age: int) -> CriterionResult:
    if f.coag_profile_on is None:
        return NO_COAG_PROFILE
    days = (f.assessed_on - f.coag_profile_on).days
    if days < 0:  # only reachable with Facts built by hand
        return COAG_AFTER_ASSESSMENT
    return WORKUP_COAGULATION.result(
        "pass" if days <= max_age else "fail",
        f"The coagulation profile is from {_ago(days)}; up to {_days(max_age)} is accepted.",
        f"from {_ago(days)}",
    )


WORKUP_ANTICOAGULATION = Criterion(
    "workup_anticoagulation",
    "workup",
    "Review of anticoagulation/antiplatelet therapy",
    "Anticoagulants and antiplatelets",
)
BY_REVIEWED = WORKUP_ANTICOAGULATION.table({
    None: ("unknown", "Whether anticoagulants and antiplatelets were reviewed is not given."),
    True: ("pass", "Anticoagulant and antiplatelet medicines have been reviewed.", "reviewed"),
    False: ("fail", "Anticoagulant and antiplatelet medicines have not been reviewed yet.",
            "not reviewed yet"),
})  # fmt: skip


@WORKUP_ANTICOAGULATION.assessed_by
def workup_anticoagulation(f: Facts, _max_age: int) -> CriterionResult:
    return BY_REVIEWED.get(f.anticoagulation_reviewed) or BY_REVIEWED[None]


CRITERIA: tuple[Criterion, ...] = (
    LEVEL, OSTEOPOROTIC, PAIN_SEVERITY, OPIOID_REFRACTORY, PAIN_DURATION, ACUTE_IMAGING,
    COAGULOPATHY, INFECTION, CANAL, HEALED_FRACTURE,
    WORKUP_MRI, WORKUP_COAGULATION, WORKUP_ANTICOAGULATION,
)  # fmt: skip


# --- advisories --------------------------------------------------------------------------------

NEUROLOGICAL_DEFICIT = Advisory(
    "neurological_deficit",
    "A neurological deficit is recorded: the patient needs urgent spinal or surgical review, "
    "not a routine referral.",
)
SUSPECTED_MALIGNANCY = Advisory(
    "suspected_malignancy",
    "A suspected malignant fracture follows the pathological fracture pathway; vertebroplasty "
    "is at the interventional radiologist's discretion.",
)
TRAUMATIC_FRACTURE = Advisory(
    "traumatic_fracture",
    "Traumatic fractures are considered case by case by the interventional radiologist.",
)
CANAL_COMPROMISE_REVIEW = Advisory(
    "canal_compromise_review",
    "Spinal canal compromise without a neurological deficit is recorded: the interventional "
    "radiologist will review the canal on MRI.",
)


def advisories(f: Facts) -> tuple[Advisory, ...]:
    found = []
    if f.neurological_deficit is True:
        found.append(NEUROLOGICAL_DEFICIT)
    if f.cause in ("malignant", "myeloma"):
        found.append(SUSPECTED_MALIGNANCY)
    if f.cause == "traumatic":
        found.append(TRAUMATIC_FRACTURE)
    if len(f.levels) > 2:
        message = (
            f"{len(f.levels)} levels are recorded; treating more than two is for the "
            "interventional radiologist to decide."
        )
        found.append(Advisory("multiple_levels", message))
    if f.pain_onset is not None and f.imaging:
        early = [
            f"{_modality(s.modality)} of {s.performed_on.isoformat()}"
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
        found.append(CANAL_COMPROMISE_REVIEW)
    return tuple(found)
