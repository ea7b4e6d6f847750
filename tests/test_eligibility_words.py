"""Each criterion reads as a statement with its answer, and a mark in words that fits its kind:
nothing reads as if the patient has a contraindication they do not have. No code reaches a
person."""

import pytest

from eligibility.labels import (
    KIND_LABELS,
    OUTCOME_LABELS,
    STATUS_WORDS,
    criterion_statement,
    outcome_label,
    statements,
)
from eligibility.rules import CRITERIA, STATUSES
from tests.test_eligibility_rules import run


def said(result, criterion_id) -> dict:
    return criterion_statement(result.by_id(criterion_id))


@pytest.mark.parametrize(
    ("changes", "criterion", "statement", "word", "colour"),
    [
        ({}, "coagulopathy", "Coagulopathy: none recorded", "Not present", "success"),
        ({"coagulopathy": "uncorrected"}, "coagulopathy", "Coagulopathy: uncorrected", "Present",
         "danger"),
        ({"coagulopathy": "corrected"}, "coagulopathy", "Coagulopathy: corrected", "Not present",
         "success"),
        ({"infection": "systemic"}, "infection", "Infection: systemic", "Present", "danger"),
        ({"infection": "local"}, "infection", "Infection: local", "Present", "danger"),
        ({"infection": None}, "infection", "Infection: not known", "Not known", "warning"),
        ({"healed_fracture": None}, "healed_fracture", "Healed fracture: not known", "Not known",
         "warning"),
        ({"healed_fracture": True}, "healed_fracture", "Healed fracture: yes", "Present",
         "danger"),
        ({"levels": ["T12", "L3"]}, "level", "Fracture level: T12, L3", "Not met", "danger"),
        ({"pain_score": 5}, "pain_severity", "Pain score: 5/10", "Not met", "danger"),
        ({}, "pain_duration", "Pain began: 10 days ago", "Met", "success"),
        ({"opioid_response": "not_trialled"}, "opioid_refractory",
         "Pain on opiates: opiates not yet tried", "Not met", "danger"),
        ({}, "acute_imaging", "Acute fracture on imaging: shown on MRI", "Met", "success"),
        ({"canal_compromise": True, "neurological_deficit": True}, "canal_compromise_deficit",
         "Spinal canal compromise: present, with neurological deficit", "Present", "danger"),
        ({"anticoagulation_reviewed": False}, "workup_anticoagulation",
         "Anticoagulants and antiplatelets: not reviewed yet", "To do", "danger"),
        ({}, "workup_coagulation", "Coagulation profile: from 5 days ago", "Done", "success"),
    ],
)  # fmt: skip
def test_a_criterion_reads_as_its_topic_and_the_facts_answer(
    changes, criterion, statement, word, colour
):
    shown = said(run(**changes), criterion)
    assert (shown["statement"], shown["word"], shown["colour"]) == (statement, word, colour)
    assert shown["icon"] in "✓✗?"


def test_every_criterion_has_a_topic_and_every_result_an_answer():
    for changes in ({}, {"levels": [], "cause": None, "imaging": [], "coagulopathy": None}):
        for shown in statements(run(**changes).criteria):
            assert shown["topic"] and shown["answer"], shown
    assert all(c.topic for c in CRITERIA)


def test_a_result_stored_before_answers_existed_still_reads_as_a_statement():
    stored = {
        "id": "infection",
        "kind": "contraindication",
        "status": "pass",
        "text": "Infection (systemic or local)",
        "reason": "No infection is recorded.",
    }
    shown = criterion_statement(stored)
    assert shown["statement"] == "Infection: not present"
    assert shown["word"] == "Not present" and shown["colour"] == "success"


def test_every_code_has_words():
    assert set(OUTCOME_LABELS) == {"eligible", "incomplete", "ineligible"}
    assert outcome_label("") == "Not assessed"
    assert set(KIND_LABELS) == set(STATUS_WORDS) == {c.kind for c in CRITERIA}
    for words in STATUS_WORDS.values():
        assert set(words) == set(STATUSES)
        assert not set(words.values()) & set(STATUSES)


def test_the_json_keeps_its_fields_and_adds_topic_and_answer():
    data = run(infection="systemic").as_dict()
    infection = next(c for c in data["criteria"] if c["id"] == "infection")
    assert infection["status"] == "fail" and infection["reason"]
    assert (infection["topic"], infection["answer"]) == ("Infection", "systemic")
