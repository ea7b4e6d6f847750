"""The eligibility rules (SPEC section 7) as plain functions: no Django, no database."""

import copy
import dataclasses
import json
import pickle
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eligibility import rules
from eligibility.rules import (
    CRITERIA,
    CRITERIA_VERSION,
    Facts,
    FactsError,
    check,
    evaluate,
    outcome_from,
    parse_facts,
)

TODAY = date(2026, 3, 10)


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def mri(acute=True, days=2):
    return {"modality": "MRI", "performed_on": ago(days), "acute_fracture": acute}


def spect(acute=True):
    return {"modality": "SPECT-CT", "performed_on": ago(3), "acute_fracture": acute}


# A referral that meets every criterion; each case below changes only what it tests.
ELIGIBLE = {
    "assessed_on": TODAY.isoformat(),
    "levels": ["L1"],
    "cause": "osteoporotic",
    "pain_score": 8,
    "pain_onset": ago(10),
    "opioid_response": "poor",
    "imaging": [mri()],
    "mri_contraindicated": False,
    "coagulopathy": "none",
    "infection": "none",
    "canal_compromise": False,
    "neurological_deficit": False,
    "healed_fracture": False,
    "coag_profile_on": ago(5),
    "anticoagulation_reviewed": True,
}


def facts(**changes) -> dict:
    data = copy.deepcopy(ELIGIBLE)
    data.update(changes)
    return data


def run(**changes):
    return check(facts(**changes), today=TODAY)


def case(criterion, status, name, **changes):
    return pytest.param(criterion, status, changes, id=name)


CRITERIA_TABLE = [
    case("level", "pass", "level T11 is treatable", levels=["T11"]),
    case("level", "pass", "level L2 is treatable", levels=["L2"]),
    case("level", "pass", "two treatable levels pass", levels=["T12", "L1"]),
    case("level", "fail", "level T10 is just above the range", levels=["T10"]),
    case("level", "fail", "level L3 is just below the range", levels=["L3"]),
    case("level", "fail", "one level inside and one outside fails", levels=["L1", "L3"]),
    case("level", "unknown", "no levels key is unknown", levels=None),
    case("level", "unknown", "an empty level list is unknown", levels=[]),
    case("osteoporotic", "pass", "osteoporotic cause passes", cause="osteoporotic"),
    case("osteoporotic", "fail", "traumatic cause fails", cause="traumatic"),
    case("osteoporotic", "fail", "malignant cause fails", cause="malignant"),
    case("osteoporotic", "fail", "myeloma cause fails", cause="myeloma"),
    case("osteoporotic", "fail", "other cause fails", cause="other"),
    case("osteoporotic", "unknown", "no cause is unknown", cause=None),
    case("pain_severity", "pass", "pain 7 passes", pain_score=7),
    case("pain_severity", "pass", "pain 10 passes", pain_score=10),
    case("pain_severity", "fail", "pain 6 fails", pain_score=6),
    case("pain_severity", "fail", "pain 0 fails", pain_score=0),
    case("pain_severity", "unknown", "no pain score is unknown", pain_score=None),
    case("opioid_refractory", "pass", "poor opioid response passes", opioid_response="poor"),
    case("opioid_refractory", "fail", "adequate response fails", opioid_response="adequate"),
    case("opioid_refractory", "fail", "opioids not trialled fails", opioid_response="not_trialled"),
    case("opioid_refractory", "unknown", "no opioid response is unknown", opioid_response=None),
    case("pain_duration", "pass", "pain onset today passes", pain_onset=ago(0)),
    case("pain_duration", "pass", "pain for 21 days passes", pain_onset=ago(21)),
    case("pain_duration", "fail", "pain for 22 days fails", pain_onset=ago(22)),
    case("pain_duration", "unknown", "no pain onset is unknown", pain_onset=None),
    case("acute_imaging", "pass", "acute MRI passes", imaging=[mri()]),
    case(
        "acute_imaging", "pass", "acute SPECT-CT with MRI contraindicated passes",
        imaging=[spect()], mri_contraindicated=True,
    ),
    case(
        "acute_imaging", "fail", "acute SPECT-CT with MRI not contraindicated fails",
        imaging=[spect()], mri_contraindicated=False,
    ),
    case(
        "acute_imaging", "unknown", "acute SPECT-CT with contraindication missing is unknown",
        imaging=[spect()], mri_contraindicated=None,
    ),
    case(
        "acute_imaging", "fail", "only CT and XR fails",
        imaging=[{"modality": "CT", "acute_fracture": True}, {"modality": "XR"}],
    ),
    case(
        "acute_imaging", "fail", "an acute bone scan alone fails",
        imaging=[{"modality": "BONE_SCAN", "acute_fracture": True}], mri_contraindicated=True,
    ),
    case("acute_imaging", "fail", "MRI without an acute fracture fails", imaging=[mri(False)]),
    case(
        "acute_imaging", "fail", "no acute finding on MRI or SPECT-CT fails",
        imaging=[mri(False), spect(False)], mri_contraindicated=True,
    ),
    case("acute_imaging", "unknown", "MRI with acuity not stated is unknown", imaging=[mri(None)]),
    case(
        "acute_imaging", "unknown", "SPECT-CT with acuity not stated is unknown",
        imaging=[spect(None)], mri_contraindicated=True,
    ),
    case(
        "acute_imaging", "pass", "an acute MRI outweighs one with acuity not stated",
        imaging=[mri(None), mri(True)],
    ),
    case("acute_imaging", "unknown", "no imaging key is unknown", imaging=None),
    case("acute_imaging", "unknown", "an empty imaging list is unknown", imaging=[]),
    case("coagulopathy", "pass", "no coagulopathy passes", coagulopathy="none"),
    case("coagulopathy", "pass", "corrected coagulopathy passes", coagulopathy="corrected"),
    case("coagulopathy", "fail", "uncorrected coagulopathy fails", coagulopathy="uncorrected"),
    case("coagulopathy", "unknown", "no coagulopathy fact is unknown", coagulopathy=None),
    case("infection", "pass", "no infection passes", infection="none"),
    case("infection", "fail", "local infection fails", infection="local"),
    case("infection", "fail", "systemic infection fails", infection="systemic"),
    case("infection", "unknown", "no infection fact is unknown", infection=None),
    case(
        "canal_compromise_deficit", "pass", "no canal compromise passes",
        canal_compromise=False, neurological_deficit=None,
    ),
    case(
        "canal_compromise_deficit", "pass", "compromise without deficit passes",
        canal_compromise=True, neurological_deficit=False,
    ),
    case(
        "canal_compromise_deficit", "fail", "compromise with deficit fails",
        canal_compromise=True, neurological_deficit=True,
    ),
    case(
        "canal_compromise_deficit", "unknown", "compromise missing is unknown",
        canal_compromise=None, neurological_deficit=False,
    ),
    case(
        "canal_compromise_deficit", "unknown", "compromise with deficit missing is unknown",
        canal_compromise=True, neurological_deficit=None,
    ),
    case("healed_fracture", "pass", "a fracture not healed passes", healed_fracture=False),
    case("healed_fracture", "fail", "a healed fracture fails", healed_fracture=True),
    case("healed_fracture", "unknown", "no healed fact is unknown", healed_fracture=None),
    case("workup_mri", "pass", "an MRI in imaging passes", imaging=[spect(), mri(False)]),
    case("workup_mri", "fail", "imaging without MRI fails", imaging=[spect()]),
    case("workup_mri", "unknown", "no imaging key leaves MRI work-up unknown", imaging=None),
    case("workup_mri", "unknown", "empty imaging leaves MRI work-up unknown", imaging=[]),
    case("workup_coagulation", "pass", "coag profile today passes", coag_profile_on=ago(0)),
    case("workup_coagulation", "pass", "coag profile 30 days old passes", coag_profile_on=ago(30)),
    case("workup_coagulation", "fail", "coag profile 31 days old fails", coag_profile_on=ago(31)),
    case("workup_coagulation", "unknown", "no coag profile is unknown", coag_profile_on=None),
    case(
        "workup_anticoagulation", "pass", "anticoagulation reviewed passes",
        anticoagulation_reviewed=True,
    ),
    case(
        "workup_anticoagulation", "fail", "anticoagulation not reviewed fails",
        anticoagulation_reviewed=False,
    ),
    case(
        "workup_anticoagulation", "unknown", "anticoagulation review missing is unknown",
        anticoagulation_reviewed=None,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("criterion_id", "status", "changes"), CRITERIA_TABLE)
def test_each_cell_of_the_criteria_table(criterion_id, status, changes):
    result = run(**changes).by_id(criterion_id)
    assert result.status == status
    assert result.reason.endswith(".") and result.reason[0].isupper()


def test_every_criterion_and_status_is_covered_by_the_table():
    covered = {(p.values[0], p.values[1]) for p in CRITERIA_TABLE}
    assert covered == {(c.id, s) for c in CRITERIA for s in ("pass", "fail", "unknown")}


def test_a_missing_key_and_null_mean_the_same():
    data = facts()
    del data["pain_score"]
    assert check(data, today=TODAY) == run(pain_score=None)


def test_reasons_name_the_specific_numbers_for_the_doctor():
    assert run(pain_onset=ago(22)).by_id("pain_duration").reason == (
        "Pain began 22 days ago; the criteria allow up to 21 days."
    )
    assert run(levels=["L3"]).by_id("level").reason == "Level L3 is outside T11 to L2."
    assert run(levels=["T10", "L1", "L3"]).by_id("level").reason == (
        "Levels T10 and L3 are outside T11 to L2."
    )
    assert "6/10" in run(pain_score=6).by_id("pain_severity").reason
    assert "31 days ago" in run(coag_profile_on=ago(31)).by_id("workup_coagulation").reason


def test_the_coagulation_profile_age_limit_can_be_set_by_the_caller():
    data = facts(coag_profile_on=ago(15))
    assert check(data, today=TODAY, coag_max_age_days=14).by_id("workup_coagulation").status == (
        "fail"
    )
    assert check(data, today=TODAY, coag_max_age_days=15).by_id("workup_coagulation").status == (
        "pass"
    )


def test_levels_are_deduplicated_and_put_in_spinal_order():
    parsed = parse_facts(facts(levels=["L1", "T12", "L1", "C2"]), today=TODAY)
    assert parsed.levels == ("C2", "T12", "L1")


# --- outcome ---------------------------------------------------------------------------------


def test_a_full_eligible_case_is_eligible_with_nothing_outstanding():
    result = run()
    assert result.outcome == "eligible"
    assert all(c.status == "pass" for c in result.criteria)
    assert result.workup_outstanding == ()
    assert result.advisories == ()
    assert result.criteria_version == CRITERIA_VERSION
    assert result.assessed_on == TODAY


def test_a_fail_outranks_an_unknown():
    assert run(pain_score=None, infection="systemic").outcome == "ineligible"
    assert run(pain_score=None).outcome == "incomplete"


def test_a_contraindication_unknown_makes_the_outcome_incomplete():
    assert run(healed_fracture=None).outcome == "incomplete"


def test_work_up_fails_never_change_an_eligible_outcome():
    result = run(
        imaging=[spect()], mri_contraindicated=True, coag_profile_on=ago(90),
        anticoagulation_reviewed=False,
    )  # fmt: skip
    assert result.outcome == "eligible"
    assert [c.id for c in result.workup_outstanding] == [
        "workup_mri",
        "workup_coagulation",
        "workup_anticoagulation",
    ]


def test_work_up_unknowns_never_change_an_eligible_outcome():
    assert run(coag_profile_on=None, anticoagulation_reviewed=None).outcome == "eligible"


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        pytest.param([], "eligible", id="nothing to judge is eligible"),
        pytest.param(
            [("indication", "pass"), ("workup", "fail")],
            "eligible",
            id="a work-up fail leaves it eligible",
        ),
        pytest.param(
            [("indication", "unknown")], "incomplete", id="an indication unknown is incomplete"
        ),
        pytest.param(
            [("contraindication", "unknown")],
            "incomplete",
            id="a contraindication unknown is incomplete",
        ),
        pytest.param(
            [("indication", "unknown"), ("contraindication", "fail")],
            "ineligible",
            id="a fail outranks an unknown",
        ),
        pytest.param(
            [("workup", "unknown")], "eligible", id="a work-up unknown leaves it eligible"
        ),
    ],
)
def test_outcome_from_applies_the_rule(statuses, outcome):
    assert outcome_from(statuses) == outcome


# --- window ----------------------------------------------------------------------------------


def test_the_window_closes_21_days_after_pain_onset():
    result = run(pain_onset="2026-03-01")
    assert result.window_closes_on == date(2026, 3, 22)
    assert result.days_left(TODAY) == 12
    assert result.days_left(date(2026, 3, 23)) == -1


def test_there_is_no_window_without_a_pain_onset():
    result = run(pain_onset=None)
    assert result.window_closes_on is None
    assert result.days_left(TODAY) is None
    assert result.as_dict()["window_closes_on"] is None


def test_assessed_on_defaults_to_the_date_the_caller_passes():
    data = facts(pain_onset="2026-03-01")
    del data["assessed_on"]
    assert check(data, today=date(2026, 3, 22)).assessed_on == date(2026, 3, 22)
    assert check(data, today=date(2026, 3, 23)).by_id("pain_duration").status == "fail"


# --- invalid input ---------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param({"pain_score": "8"}, "pain_score", "whole number", id="text pain score"),
    pytest.param({"pain_score": True}, "pain_score", "whole number", id="bool pain score"),
    pytest.param({"pain_score": 7.5}, "pain_score", "whole number", id="fractional pain score"),
    pytest.param({"pain_score": 11}, "pain_score", "0 to 10", id="pain score over 10"),
    pytest.param({"pain_score": -1}, "pain_score", "0 to 10", id="negative pain score"),
    pytest.param({"cause": "Osteoporotic"}, "cause", "one of", id="capitalised cause"),
    pytest.param({"cause": ["osteoporotic"]}, "cause", "one of", id="list for a word"),
    pytest.param({"opioid_response": "bad"}, "opioid_response", "one of", id="unknown word"),
    pytest.param({"coagulopathy": "yes"}, "coagulopathy", "one of", id="unknown coagulopathy"),
    pytest.param({"infection": "none "}, "infection", "one of", id="word with a space"),
    pytest.param({"healed_fracture": "yes"}, "healed_fracture", "true or false", id="yes"),
    pytest.param({"canal_compromise": 0}, "canal_compromise", "true or false", id="zero as bool"),
    pytest.param({"mri_contraindicated": 1}, "mri_contraindicated", "true or", id="one as bool"),
    pytest.param({"levels": "L1"}, "levels", "list", id="levels not a list"),
    pytest.param({"levels": ["L1", "L6"]}, "levels[1]", "spinal level", id="unknown level"),
    pytest.param({"levels": ["l1"]}, "levels[0]", "spinal level", id="lowercase level"),
    pytest.param({"levels": [["L1"]]}, "levels[0]", "spinal level", id="nested level list"),
    pytest.param({"pain_onset": "2026-03 01"}, "pain_onset", "YYYY-MM-DD", id="date with a space"),
    pytest.param({"pain_onset": "2026-02-30"}, "pain_onset", "real date", id="impossible date"),
    pytest.param({"pain_onset": "20260301"}, "pain_onset", "YYYY-MM-DD", id="compact date"),
    pytest.param({"pain_onset": "2026-3-1"}, "pain_onset", "YYYY-MM-DD", id="unpadded date"),
    pytest.param({"pain_onset": 20260301}, "pain_onset", "YYYY-MM-DD", id="number as date"),
    pytest.param({"pain_onset": "2026-03-11"}, "pain_onset", "after assessed_on", id="onset late"),
    pytest.param({"coag_profile_on": "2026-04-01"}, "coag_profile_on", "after", id="coag late"),
    pytest.param({"assessed_on": "tomorrow"}, "assessed_on", "YYYY-MM-DD", id="bad assessed_on"),
    pytest.param({"pain_scroe": 8}, "pain_scroe", "unknown fact", id="unknown key"),
    pytest.param({"imaging": {"modality": "MRI"}}, "imaging", "list", id="imaging not a list"),
    pytest.param({"imaging": ["MRI"]}, "imaging[0]", "object", id="imaging item not an object"),
    pytest.param({"imaging": [{}]}, "imaging[0].modality", "required", id="modality missing"),
    pytest.param(
        {"imaging": [{"modality": None}]}, "imaging[0].modality", "required", id="modality null"
    ),
    pytest.param(
        {"imaging": [{"modality": "mri"}]}, "imaging[0].modality", "one of", id="modality case"
    ),
    pytest.param(
        {"imaging": [{"modality": "MRI"}, {"modality": "MRI", "performed_on": "2026-13-01"}]},
        "imaging[1].performed_on",
        "real date",
        id="bad study date",
    ),
    pytest.param(
        {"imaging": [{"modality": "MRI", "performed_on": "2026-03-11"}]},
        "imaging[0].performed_on",
        "after assessed_on",
        id="study after assessed_on",
    ),
    pytest.param(
        {"imaging": [{"modality": "MRI", "acute_fracture": "yes"}]},
        "imaging[0].acute_fracture",
        "true or false",
        id="study acute not a bool",
    ),
    pytest.param(
        {"imaging": [{"modality": "MRI", "site": "Box Hill"}]},
        "imaging[0].site",
        "unknown field",
        id="unknown study key",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_INPUT)
def test_bad_input_raises_facts_error_naming_the_field(changes, field, message):
    with pytest.raises(FactsError) as caught:
        check(facts(**changes), today=TODAY)
    assert list(caught.value.errors) == [field]
    assert message in caught.value.errors[field]
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize("data", [[ELIGIBLE], "facts", 3, None], ids=["list", "str", "int", "null"])
def test_facts_that_are_not_an_object_are_refused(data):
    with pytest.raises(FactsError) as caught:
        check(data, today=TODAY)
    assert caught.value.errors == {"facts": "must be a JSON object"}


def test_several_bad_fields_are_all_reported_at_once():
    data = facts(
        pain_score=12, cause="osteo", pain_onset="2026-02-30", levels=["L1", "X9"], colour="red",
        imaging=[{"modality": "PET", "acute_fracture": 1}],
    )  # fmt: skip
    with pytest.raises(FactsError) as caught:
        check(data, today=TODAY)
    errors = caught.value.errors
    assert set(errors) == {
        "pain_score", "cause", "pain_onset", "levels[1]", "colour",
        "imaging[0].modality", "imaging[0].acute_fracture",
    }  # fmt: skip
    for field in errors:
        assert f"{field}: " in str(caught.value)


def test_a_bad_assessed_on_does_not_also_blame_the_other_dates():
    with pytest.raises(FactsError) as caught:
        check(facts(assessed_on="2026-02-30"), today=TODAY)
    assert caught.value.errors == {"assessed_on": "is not a real date"}


def test_facts_error_survives_pickling_with_its_fields():
    error = FactsError({"pain_score": "must be a whole number from 0 to 10"})
    # Our own object, not untrusted data: Celery pickles exceptions raised in tasks.
    assert pickle.loads(pickle.dumps(error)).errors == error.errors  # noqa: S301


# --- advisories ------------------------------------------------------------------------------

ADVISORY_CASES = [
    pytest.param("neurological_deficit", {"neurological_deficit": True}, id="deficit"),
    pytest.param(
        "neurological_deficit",
        {"canal_compromise": True, "neurological_deficit": True},
        id="deficit with compromise",
    ),
    pytest.param("suspected_malignancy", {"cause": "malignant"}, id="malignant"),
    pytest.param("suspected_malignancy", {"cause": "myeloma"}, id="myeloma"),
    pytest.param("traumatic_fracture", {"cause": "traumatic"}, id="traumatic"),
    pytest.param("multiple_levels", {"levels": ["T11", "T12", "L1"]}, id="three levels"),
    pytest.param(
        "imaging_before_onset",
        {"pain_onset": ago(10), "imaging": [mri(days=11)]},
        id="imaging the day before onset",
    ),
    pytest.param(
        "canal_compromise_review",
        {"canal_compromise": True, "neurological_deficit": False},
        id="compromise without deficit",
    ),
]


@pytest.mark.parametrize(("advisory_id", "changes"), ADVISORY_CASES)
def test_each_advisory_appears_alone_when_it_should(advisory_id, changes):
    result = run(**changes)
    assert [a.id for a in result.advisories] == [advisory_id]
    assert result.advisories[0].message.endswith(".")


@pytest.mark.parametrize(("advisory_id", "changes"), ADVISORY_CASES)
def test_advisories_never_change_the_outcome(advisory_id, changes):
    result = run(**changes)
    assert result.outcome == outcome_from((c.kind, c.status) for c in result.criteria)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"neurological_deficit": False}, id="no deficit"),
        pytest.param(
            {"neurological_deficit": None, "canal_compromise": None}, id="deficit unknown"
        ),
        pytest.param({"cause": "other"}, id="other cause"),
        pytest.param({"cause": None}, id="no cause"),
        pytest.param({"levels": ["T12", "L1"]}, id="two levels"),
        pytest.param({"levels": ["L1", "L1", "L1"]}, id="one level repeated"),
        pytest.param({"imaging": [mri(days=10)]}, id="imaging on the day of onset"),
        pytest.param({"imaging": [mri(days=11)], "pain_onset": None}, id="imaging without onset"),
        pytest.param({"imaging": [{"modality": "MRI", "acute_fracture": True}]}, id="undated"),
        pytest.param(
            {"canal_compromise": False, "neurological_deficit": False}, id="no compromise"
        ),
        pytest.param(
            {"canal_compromise": True, "neurological_deficit": None}, id="deficit missing"
        ),
    ],
)
def test_no_advisory_appears_otherwise(changes):
    assert run(**changes).advisories == ()


def test_advisories_stack_without_changing_an_eligible_outcome():
    result = run(
        levels=["T11", "T12", "L1"], canal_compromise=True, neurological_deficit=False,
        imaging=[mri(days=30), mri(days=1)],
    )  # fmt: skip
    assert result.outcome == "eligible"
    assert [a.id for a in result.advisories] == [
        "multiple_levels",
        "imaging_before_onset",
        "canal_compromise_review",
    ]


# --- serialising -----------------------------------------------------------------------------


def test_as_dict_round_trips_through_json():
    result = run(cause="malignant", pain_score=None)
    data = result.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "outcome", "criteria", "advisories", "window_closes_on", "assessed_on", "criteria_version",
    }  # fmt: skip
    assert [c["id"] for c in data["criteria"]] == [c.id for c in CRITERIA]
    assert set(data["criteria"][0]) == {
        "id", "kind", "text", "status", "reason", "topic", "answer",
    }  # fmt: skip
    assert [a["id"] for a in data["advisories"]] == ["suspected_malignancy"]
    assert data["assessed_on"] == "2026-03-10"
    assert data["window_closes_on"] == "2026-03-21"
    assert data["outcome"] == "ineligible"


def test_criterion_texts_follow_the_seed_wording():
    texts = {c.id: c.text for c in CRITERIA}
    assert "T11, T12, L1 or L2" in texts["level"]
    assert texts["pain_severity"] == "Severe pain (numeric rating ≥ 7/10) must be present."
    assert texts["healed_fracture"] == "Chronic, healed fractures"
    assert [c.kind for c in CRITERIA].count("workup") == 3


def test_facts_built_by_hand_with_nothing_known_are_incomplete():
    result = evaluate(Facts(assessed_on=TODAY))
    assert result.outcome == "incomplete"
    assert {c.status for c in result.criteria} == {"unknown"}
    assert result.window_closes_on is None


def test_by_id_raises_key_error_for_an_unknown_criterion():
    with pytest.raises(KeyError):
        run().by_id("no_such_criterion")


def test_a_result_its_criteria_and_the_facts_are_immutable():
    # Results written out once (a table's rows) are shared between results, so none may change.
    # Facts and criterion results are NamedTuples (AttributeError), a result a frozen dataclass
    # (FrozenInstanceError, an AttributeError too).
    result = run(cause="malignant")
    parsed = parse_facts(facts(), today=TODAY)
    for obj, field in (
        (result, "outcome"), (result.criteria[0], "status"), (result.advisories[0], "message"),
        (parsed, "pain_score"), (parsed.imaging[0], "acute_fracture"),
    ):  # fmt: skip
        with pytest.raises(AttributeError):
            setattr(obj, field, None)
        with pytest.raises(AttributeError):
            delattr(obj, field)
    assert isinstance(result.criteria, tuple) and isinstance(result.advisories, tuple)
    assert isinstance(parsed.levels, tuple) and isinstance(parsed.imaging, tuple)
    assert run(cause="malignant") == result  # and an equal check gives an equal result


def test_a_result_survives_pickling_and_dataclass_copies():
    result = run(cause="traumatic", levels=["T10", "L1", "L3"], pain_onset=ago(3))
    assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301 (our own object)
    assert dataclasses.replace(result) == result
    assert result.criteria[0]._asdict() == result.as_dict()["criteria"][0]


def test_facts_built_by_hand_need_not_be_hashable():
    # Some reasons are cached by value; a list of levels (parse_facts gives a tuple) still works.
    assert evaluate(Facts(assessed_on=TODAY, levels=["L1"])).by_id("level").status == "pass"


# --- properties ------------------------------------------------------------------------------

DAY = timedelta(days=1)


def maybe(strategy):
    return st.none() | strategy


@st.composite
def valid_facts(draw):
    assessed = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
    past = st.dates(min_value=assessed - 400 * DAY, max_value=assessed).map(date.isoformat)
    study = st.fixed_dictionaries(
        {"modality": st.sampled_from(rules.MODALITIES)},
        optional={"performed_on": maybe(past), "acute_fracture": maybe(st.booleans())},
    )
    optional = {
        "assessed_on": st.just(assessed.isoformat()),
        "levels": maybe(st.lists(st.sampled_from(rules.LEVELS), max_size=5)),
        "cause": maybe(st.sampled_from(rules.CAUSES)),
        "pain_score": maybe(st.integers(0, 10)),
        "pain_onset": maybe(past),
        "opioid_response": maybe(st.sampled_from(rules.OPIOID_RESPONSES)),
        "imaging": maybe(st.lists(study, max_size=4)),
        "coagulopathy": maybe(st.sampled_from(rules.COAGULOPATHY_VALUES)),
        "infection": maybe(st.sampled_from(rules.INFECTION_VALUES)),
        "coag_profile_on": maybe(past),
    }
    for key in (
        "mri_contraindicated", "canal_compromise", "neurological_deficit", "healed_fracture",
        "anticoagulation_reviewed",
    ):  # fmt: skip
        optional[key] = maybe(st.booleans())
    return assessed, draw(st.fixed_dictionaries({}, optional=optional))


@settings(max_examples=300)
@given(valid_facts(), st.integers(0, 120))
def test_any_valid_facts_evaluate_to_a_consistent_result(drawn, coag_max_age_days):
    assessed, data = drawn
    # Without assessed_on the caller's date stands in; every generated date is on or before it.
    result = check(data, today=assessed, coag_max_age_days=coag_max_age_days)
    assert [c.id for c in result.criteria] == [c.id for c in CRITERIA]
    assert [(c.kind, c.text) for c in result.criteria] == [(c.kind, c.text) for c in CRITERIA]
    assert all(c.status in rules.STATUSES and c.reason for c in result.criteria)
    assert result.outcome == outcome_from((c.kind, c.status) for c in result.criteria)
    expected_outcome = (
        "ineligible"
        if any(c.status == "fail" for c in result.criteria if c.kind != "workup")
        else "incomplete"
        if any(c.status == "unknown" for c in result.criteria if c.kind != "workup")
        else "eligible"
    )
    assert result.outcome == expected_outcome
    assert json.loads(json.dumps(result.as_dict())) == result.as_dict()


FACT_KEYS = [*Facts._fields, "modality", "performed_on", "acute_fracture"]
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["L1", "MRI", "2026-03-01", "2026-02-30", "none", "poor"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(FACT_KEYS) | st.text(max_size=8), children, max_size=6),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=500)
@given(junk)
def test_junk_input_only_ever_raises_facts_error(data):
    try:
        result = check(data, today=TODAY)
    except FactsError as error:
        assert error.errors and all(isinstance(m, str) for m in error.errors.values())
    else:
        assert result.outcome in rules.OUTCOMES
