"""The eligibility contract through its two outside interfaces: the command and the endpoint."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.urls import reverse

from eligibility.rules import CRITERIA, CRITERIA_VERSION

ROOT = Path(__file__).resolve().parent.parent

ELIGIBLE = {
    "assessed_on": "2026-11-20",
    "levels": ["L1"],
    "cause": "osteoporotic",
    "pain_score": 8,
    "pain_onset": "2026-11-10",
    "opioid_response": "poor",
    "imaging": [{"modality": "MRI", "performed_on": "2026-11-12", "acute_fracture": True}],
    "coagulopathy": "none",
    "infection": "none",
    "canal_compromise": False,
    "healed_fracture": False,
}

# Each kind of invalid input, with the field the message must name.
INVALID = [
    ("wrong type", {"pain_score": "eight"}, "pain_score"),
    ("out of range", {"pain_score": 11}, "pain_score"),
    ("unknown word", {"cause": "osteoporosis"}, "cause"),
    ("impossible date", {"pain_onset": "2026-02-30"}, "pain_onset"),
    (
        "onset after assessed_on",
        {"assessed_on": "2026-11-01", "pain_onset": "2026-11-02"},
        "pain_onset",
    ),
    ("unknown level", {"levels": ["L6"]}, "levels[0]"),
    ("bad imaging item", {"imaging": [{"modality": "PET"}]}, "imaging[0].modality"),
    ("not an object", ["just a string"], "[0].facts"),
]


def run_command(stdin: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(
        [sys.executable, "manage.py", "eligibility", *(args or ("-",))],
        input=stdin,
        cwd=ROOT,
        env={**env, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_turns_an_object_into_a_result_and_exits_0():
    result = run_command(json.dumps(ELIGIBLE))
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["outcome"] == "eligible"
    assert body["window_closes_on"] == "2026-12-01"
    assert body["criteria_version"] == CRITERIA_VERSION
    assert [c["id"] for c in body["criteria"]] == [c.id for c in CRITERIA]


def test_the_command_exits_0_for_an_ineligible_outcome_too():
    result = run_command(json.dumps({**ELIGIBLE, "pain_score": 3}))
    assert result.returncode == 0
    assert json.loads(result.stdout)["outcome"] == "ineligible"


def test_a_list_in_gives_a_list_out_of_the_same_length_and_order(tmp_path):
    facts = [
        {**ELIGIBLE, "pain_score": 3},
        {},
        ELIGIBLE,
        {**ELIGIBLE, "levels": ["L4"]},
    ]
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    result = run_command("", str(path))
    assert result.returncode == 0, result.stderr
    outcomes = [r["outcome"] for r in json.loads(result.stdout)]
    assert outcomes == ["ineligible", "incomplete", "eligible", "ineligible"]


@pytest.mark.parametrize(
    ("facts", "field"), [(f, n) for _, f, n in INVALID], ids=[i[0] for i in INVALID]
)
def test_invalid_input_exits_2_naming_the_field_without_a_traceback(facts, field):
    result = run_command(json.dumps(facts))
    assert result.returncode == 2
    assert field in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_every_bad_field_is_named_not_only_the_first():
    result = run_command(json.dumps({"pain_score": -1, "cause": "x", "infection": True}))
    assert result.returncode == 2
    for field in ("pain_score", "cause", "infection"):
        assert field in result.stderr


def test_malformed_json_and_a_missing_file_exit_2():
    bad_json = run_command("{not json")
    assert (bad_json.returncode, "not valid JSON" in bad_json.stderr) == (2, True)
    missing = run_command("", "/nonexistent/facts.json")
    assert (missing.returncode, "cannot read" in missing.stderr) == (2, True)
    assert "Traceback" not in bad_json.stderr + missing.stderr


# --- the endpoint -------------------------------------------------------------------------------


def post(client, payload, **extra):
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.post(reverse("eligibility_api"), body, content_type="application/json", **extra)


def test_a_signed_in_user_gets_the_same_result_as_the_command(client, referrer):
    client.force_login(referrer)
    response = post(client, ELIGIBLE)
    assert response.status_code == 200
    assert response.json() == json.loads(run_command(json.dumps(ELIGIBLE)).stdout)


def test_a_list_posted_gives_a_list_back_in_order(client, admin_user):
    client.force_login(admin_user)
    response = post(client, [{**ELIGIBLE, "cause": "traumatic"}, ELIGIBLE])
    results = json.loads(b"".join(response.streaming_content))  # a list is streamed
    assert [r["outcome"] for r in results] == ["ineligible", "eligible"]


def test_assessed_on_defaults_to_today_in_melbourne(client, referrer):
    client.force_login(referrer)
    facts = {k: v for k, v in ELIGIBLE.items() if k != "assessed_on"}
    body = post(client, {**facts, "pain_onset": date.today().isoformat()}).json()
    from django.utils import timezone

    assert body["assessed_on"] == timezone.localdate().isoformat()


@pytest.mark.parametrize(
    ("facts", "field"), [(f, n) for _, f, n in INVALID], ids=[i[0] for i in INVALID]
)
def test_invalid_input_gets_400_naming_the_field(client, referrer, facts, field):
    client.force_login(referrer)
    response = post(client, facts)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_malformed_json_gets_400(client, referrer):
    client.force_login(referrer)
    response = post(client, "{nope")
    assert response.status_code == 400
    assert "body" in response.json()["errors"]


def test_anonymous_callers_get_401(client, db):
    response = post(client, ELIGIBLE)
    assert response.status_code == 401


def test_get_is_not_allowed(client, referrer):
    client.force_login(referrer)
    assert client.get(reverse("eligibility_api")).status_code == 405


def test_the_endpoint_is_csrf_protected_and_accepts_the_header(referrer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(referrer)
    assert post(client, ELIGIBLE).status_code == 403
    client.get("/referrals/")  # any page sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    assert post(client, ELIGIBLE, HTTP_X_CSRFTOKEN=token).status_code == 200
