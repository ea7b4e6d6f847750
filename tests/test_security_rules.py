"""The project's own semgrep rules (.semgrep/rules.yml) find what they should and nothing else.

Every bad example in .semgrep/examples/ marks each finding it must produce with a
`# ruleid: <id>` (or `{# ruleid: <id> #}`) comment on the line before; the findings must be
exactly those, so a rule that stops matching a form, or starts matching twice, fails here. The
good examples and the application itself (portal, referrals, eligibility, templates) must
produce none.

semgrep is found through $SEMGREP, else on PATH, else beside this interpreter (the project's
virtual environment). Without it the tests are skipped, except under CI, where they fail. The
runs use local rules only: no metrics, no version check, no registry.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ".semgrep/rules.yml"
EXAMPLES = ROOT / ".semgrep" / "examples"
APP_TARGETS = ["portal", "referrals", "eligibility", "templates"]
RULE_IDS = {
    "weasyprint-unrestricted-fetcher",
    "django-mark-safe",
    "django-template-safe",
    "raw-sql-from-strings",
}
MARKER = re.compile(r"(?:#|\{#)\s*ruleid:\s*([\w-]+)")
TIMEOUT = 300

BAD = sorted(EXAMPLES.glob("bad_*"))
GOOD = sorted(EXAMPLES.glob("good_*"))


def _semgrep() -> str:
    configured = os.environ.get("SEMGREP")
    if configured:
        found = shutil.which(configured)
        if found is None:
            pytest.fail(f"SEMGREP={configured!r} is not an executable")
        return found
    beside = Path(sys.executable).parent / "semgrep"
    found = shutil.which("semgrep") or shutil.which(str(beside))
    if found is None:
        message = (
            "semgrep is not installed: set SEMGREP to its path, put it on PATH, or install the "
            "project's dev dependencies"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _scan(targets: list[str]) -> dict:
    binary = _semgrep()
    env = {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    completed = subprocess.run(
        [binary, "scan", "--json", "--metrics=off", "--disable-version-check"]
        + ["--config", RULES, *targets],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    output = json.loads(completed.stdout)
    # A rule that fails to parse is only an entry here: semgrep still exits 0 without it.
    assert output["errors"] == [], output["errors"]
    assert not output.get("skipped_rules"), output["skipped_rules"]
    return output


def _findings(output: dict) -> dict[str, list[tuple[int, str]]]:
    """{path relative to the root: sorted [(line, rule id)]}, duplicates kept."""
    found: dict[str, list[tuple[int, str]]] = {}
    for result in output["results"]:
        rule = result["check_id"].rsplit(".", 1)[-1]  # semgrep prefixes the config's folder
        found.setdefault(result["path"], []).append((result["start"]["line"], rule))
    return {path: sorted(items) for path, items in found.items()}


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.fixture(scope="module")
def examples_scan():
    return _scan([_relative(EXAMPLES)])


@pytest.fixture(scope="module")
def application_scan():
    return _scan(APP_TARGETS)


def test_rule_file_declares_each_rule_as_an_error():
    text = (ROOT / RULES).read_text()
    ids = re.findall(r"^\s*- id:\s*(\S+)\s*$", text, re.MULTILINE)
    assert sorted(ids) == sorted(RULE_IDS)
    assert len(re.findall(r"^\s*severity:\s*ERROR\s*$", text, re.MULTILINE)) == len(RULE_IDS)
    assert "registry" not in text and "semgrep.dev" not in text  # local rules only


def test_every_rule_has_bad_and_good_examples():
    covered = {rule for path in BAD for rule in MARKER.findall(path.read_text())}
    assert covered == RULE_IDS
    assert len(GOOD) >= 4


@pytest.mark.parametrize("example", BAD, ids=lambda path: path.name)
def test_bad_example_yields_exactly_its_rule(examples_scan, example):
    lines = example.read_text().splitlines()
    expected = sorted(
        (number + 1, match.group(1))
        for number, line in enumerate(lines, start=1)
        if (match := MARKER.search(line))
    )
    assert expected, f"{example.name} marks no expected finding"
    assert len({rule for _, rule in expected}) == 1, "one rule per bad example"
    found = _findings(examples_scan).get(_relative(example), [])
    assert {rule for _, rule in found} == {expected[0][1]}
    assert found == expected


@pytest.mark.parametrize("example", GOOD, ids=lambda path: path.name)
def test_good_example_yields_nothing(examples_scan, example):
    assert _relative(example) in examples_scan["paths"]["scanned"]
    assert _findings(examples_scan).get(_relative(example), []) == []


def test_application_has_no_findings(application_scan):
    scanned = set(application_scan["paths"]["scanned"])
    # The scan really covered the code the rules are about, not an empty selection.
    for path in ("portal/views.py", "referrals/packets/pdf.py", "referrals/demo.py"):
        assert path in scanned
    assert any(path.startswith("templates/") and path.endswith(".html") for path in scanned)
    findings = [
        f"{result['path']}:{result['start']['line']}: {result['check_id'].rsplit('.', 1)[-1]}"
        for result in application_scan["results"]
    ]
    assert findings == []
