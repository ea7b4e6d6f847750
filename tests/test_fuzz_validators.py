"""Bounded fuzzing (Hypothesis) of the upload check and the form validators: whatever arrives,
the answer is a refusal or validation errors, never a crash (a crash is a 500 for the GP).

The eligibility rules' own fuzzing is in test_eligibility_rules.py
(test_junk_input_only_ever_raises_facts_error).
"""

import random
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from django.utils.datastructures import MultiValueDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligibility.rules import LEVELS
from portal.forms import SignupForm
from portal.validators import (
    validate_ihi,
    validate_medicare_irn,
    validate_medicare_number,
    validate_provider_number,
)
from referrals.file_checks import (
    ACCEPTED_DESCRIPTION,
    DISPLAY_NAME_LIMIT,
    DetectedDocument,
    DocumentRejected,
    inspect_document,
    safe_display_name,
)
from referrals.forms.intake import ClinicalForm, PatientForm
from referrals.models import Referral
from tests.factories import make_ihi, make_medicare_number, make_provider_number
from tests.files import dicom_bytes, dicom_image_bytes, image_bytes, pdf_bytes

MAX = 10 * 1024 * 1024
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- the upload check -----------------------------------------------------------------------------

PREFIXES = [
    b"",
    b"%PDF-1.7\n",
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
    b"junk before the header\n%PDF-1.5\n",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"\0" * 128 + b"DICM",
    b"MZ" + b"\0" * 126 + b"DICM",
    b"\x02\x00",
    b"\x08\x00",
    b"PK\x03\x04",
    b"MZ",
    b"\x7fELF",
    b"<",
    b"\xef\xbb\xbf <html>",
    b"GIF89a",
]
# A PDF ending reaches pypdf (in its child); without one a PDF is refused before that.
SUFFIXES = [b"", b"\n%%EOF\n", b"\nstartxref\n9\n%%EOF\n"]


def check_file(path) -> None:
    """The only two outcomes: a DetectedDocument, or a refusal naming what is accepted."""
    try:
        result = inspect_document(path, max_bytes=MAX)
    except DocumentRejected as exc:
        assert exc.message.endswith(f"We accept {ACCEPTED_DESCRIPTION} files.")
    else:
        assert isinstance(result, DetectedDocument)
        assert result.content_type in {
            "application/pdf",
            "image/jpeg",
            "image/png",
            "application/dicom",
        }


@FUZZ
@given(
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=2048),
    suffix=st.sampled_from(SUFFIXES),
)
def test_inspect_document_on_arbitrary_bytes_refuses_or_accepts(tmp_path, prefix, body, suffix):
    path = tmp_path / "upload"
    path.write_bytes(prefix + body + suffix)
    check_file(path)


REAL_FILES = {
    "pdf": pdf_bytes(pages=2),
    "png": image_bytes("PNG", size=(40, 30)),
    "jpeg": image_bytes("JPEG", size=(40, 30)),
    "dicom": dicom_bytes(),
    "dicom-pixels": dicom_image_bytes(16),
    "dicom-no-preamble": dicom_bytes(preamble=False),
}


@st.composite
def mutated(draw, kinds):
    """A real file with a few bytes changed, a slice cut out or its end cut off."""
    data = bytearray(REAL_FILES[draw(st.sampled_from(kinds))])
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(data) - 1))
        del data[start : start + draw(st.integers(1, 64))]
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    return bytes(data)


@FUZZ
@given(data=mutated(["png", "jpeg", "dicom", "dicom-pixels", "dicom-no-preamble"]))
def test_inspect_document_on_damaged_images_and_dicom_refuses_or_accepts(tmp_path, data):
    path = tmp_path / "upload"
    path.write_bytes(data)
    check_file(path)


# Each PDF is checked in a child process (about 0.2 s), so fewer examples.
@settings(FUZZ, max_examples=40)
@given(data=mutated(["pdf"]))
def test_inspect_document_on_damaged_pdfs_refuses_or_accepts(tmp_path, data):
    path = tmp_path / "upload.pdf"
    path.write_bytes(data)
    check_file(path)


# --- display names --------------------------------------------------------------------------------

EXTENSIONS = ["", ".pdf", ".jpg", ".png", ".dcm"]
NAME_PARTS = ["..", "/", "\\", ".", " ", "\x00", "\u202e", "\r\n", "report", ".pdf", ".exe", "é"]


@FUZZ
@given(
    name=st.one_of(
        st.text(max_size=400),
        st.lists(st.sampled_from(NAME_PARTS), max_size=30).map("".join),
        st.text(alphabet=st.sampled_from("./\\ \x00a"), max_size=40),
    ),
    extension=st.sampled_from(EXTENSIONS),
)
def test_safe_display_name_is_always_safe(name, extension):
    result = safe_display_name(name, extension=extension)
    assert result and len(result) <= DISPLAY_NAME_LIMIT
    assert "/" not in result and "\\" not in result and ".." not in result
    assert not any(unicodedata.category(ch).startswith("C") for ch in result)
    assert result[0] not in ". " and result[-1] != " "
    # Safe names stay as they are: sanitising twice changes nothing.
    assert safe_display_name(result, extension=extension) == result


# --- identifiers ----------------------------------------------------------------------------------

RNG = random.Random(20260101)
# ASCII, Arabic-Indic, fullwidth and superscript digits: str.isdigit() is true for them all.
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩０１２３４５６７８９⁰¹²³⁴⁵⁶⁷⁸⁹"


def identifier_like(valid: list[str], length: int):
    return st.one_of(
        st.text(max_size=40),
        st.sampled_from(valid),
        st.text(alphabet=DIGITS + " -YABX", min_size=length - 2, max_size=length + 2),
    )


@FUZZ
@given(
    medicare=identifier_like([make_medicare_number(RNG) for _ in range(5)], 10),
    ihi=identifier_like([make_ihi(RNG) for _ in range(5)], 16),
    provider=identifier_like([make_provider_number(RNG) for _ in range(5)], 8),
    irn=st.one_of(st.integers(), st.text(max_size=3), st.none(), st.floats()),
)
def test_identifier_validators_raise_only_validation_errors(medicare, ihi, provider, irn):
    for validate, value in [
        (validate_medicare_number, medicare),
        (validate_ihi, ihi),
        (validate_provider_number, provider),
        (validate_medicare_irn, irn),
    ]:
        try:
            validate(value)
        except ValidationError as exc:
            assert exc.messages and all(isinstance(m, str) and m for m in exc.messages)


# --- the intake and sign-up forms -----------------------------------------------------------------

DATES = ["1944-03-09", "2026-02-30", "0001-01-01", "9999-12-31", "19440309", "3/9/1944", ""]
NUMBERS = ["0", "7", "10", "11", "-1", "1e999", "NaN", "Infinity", "0.5", "١٠", "²", "9" * 30]
YES_NO = ["yes", "no", "", "maybe", "True", "on"]
TRICKY_DIGITS = ["３０５３", "٣٠٥٣", "30 53", "0800", "3O53"]


def field_values(pool: list[str]):
    return st.one_of(st.text(max_size=60), st.sampled_from(pool))


PATIENT_FIELDS = {
    "patient_given_name": ["Joan", "", "x" * 101, "Jo\x00an"],
    "patient_family_name": ["Sample", "O'Brien", ""],
    "patient_dob": DATES,
    "patient_sex": ["female", "male", "other", "not_stated", "F", ""],
    "medicare_number": [make_medicare_number(RNG), "2950 12345 1", "٢٩٥٠١٢٣٤٥١", "29501234"],
    "medicare_irn": ["1", "9", "0", "10", "²", ""],
    "ihi": [make_ihi(RNG), "8003 6000 0000 0000", "800360٠٠٠٠٠٠٠٠٠٠", ""],
    "patient_phone": ["0400 000 000", "+61 3 9000 0000", ""],
    "address_line": ["2 Example Road", ""],
    "suburb": ["Carlton", ""],
    "state": ["VIC", "NSW", "ACT", "NT", "TAS", "WA", "SA", "QLD", "vic", "XX", ""],
    "postcode": ["3053", "2000", "0800", "200", "30530", "abcd", *TRICKY_DIGITS],
    "interpreter_needed": ["on", "true", "", "1"],
    "interpreter_language": ["Greek", ""],
    "preferred_site": ["", "1", "999999", "-1", "x"],
    "copy_to": ["Dr A, Clinic", ""],
    "patient_consent": ["on", ""],
}

CLINICAL_FIELDS = {
    "levels": [*LEVELS[:3], "L1", "T12", "X9", ""],
    "cause": ["osteoporotic", "traumatic", "malignant", "myeloma", "other", "unknown", ""],
    "pain_score": NUMBERS,
    "pain_onset": DATES,
    "opioid_response": ["poor", "adequate", "not_trialled", "bad", ""],
    "mri_contraindicated": YES_NO,
    "mri_contraindication_reason": ["Pacemaker", ""],
    "coagulopathy": ["none", "corrected", "uncorrected", "??", ""],
    "infection": ["none", "local", "systemic", "x", ""],
    "canal_compromise": YES_NO,
    "neurological_deficit": YES_NO,
    "healed_fracture": YES_NO,
    "anticoagulation_reviewed": YES_NO,
    "coag_profile_on": DATES,
    "inr": ["1.1", "0.4", "10.5", "99.999", *NUMBERS],
    "platelets": ["250", "2001", "-5", *NUMBERS],
    "history": ["Fell at home.", "\x00", "x" * 5000],
    "current_analgesia": ["Oxycodone 5 mg", ""],
    "allergies": ["Nil known", ""],
    "osteoporosis_treatment": ["Denosumab", ""],
}

SIGNUP_FIELDS = {
    "first_name": ["Alex", "", "x" * 151],
    "last_name": ["Morgan", ""],
    "email": ["new.gp@clinic.example", "alex.gp@clinic.example", "not-an-email", "a@b", ""],
    "password1": ["correct-horse-battery-staple-42", "password", "short", ""],
    "password2": ["correct-horse-battery-staple-42", "different", ""],
    "provider_number": [make_provider_number(RNG), "2123456Y", "٢١٢٣٤٥6Y", "", "x" * 13],
    "practice_name": ["Example Clinic", ""],
    "address": ["1 Example Street", ""],
    "phone": ["03 9000 0000", ""],
}


def form_data(fields: dict, multiple=()):
    """Any subset of the form's fields, each some text or a plausible value (several for a
    multi-valued field), as a browser's POST would bring them."""
    values = {
        name: st.lists(field_values(pool), max_size=5)
        if name in multiple
        else field_values(pool).map(lambda v: [v])
        for name, pool in fields.items()
    }
    return st.fixed_dictionaries({}, optional=values).map(MultiValueDict)


def assert_validates_without_crashing(form) -> None:
    valid = form.is_valid()
    assert isinstance(valid, bool)
    if not valid:
        assert form.errors
        for messages in form.errors.values():
            assert all(isinstance(m, str) and m for m in messages)


@pytest.fixture
def draft_referral(db, referrer):
    """Unsaved, as the intake view binds its section forms to the draft."""
    return Referral(referrer=referrer, reference="VP-TEST")


@FUZZ
@given(data=form_data(PATIENT_FIELDS))
def test_patient_form_only_ever_reports_errors(draft_referral, data):
    assert_validates_without_crashing(PatientForm(data, instance=draft_referral))


@FUZZ
@given(data=form_data(CLINICAL_FIELDS, multiple={"levels"}))
def test_clinical_form_only_ever_reports_errors(draft_referral, data):
    assert_validates_without_crashing(ClinicalForm(data, instance=draft_referral))


@FUZZ
@given(data=form_data(SIGNUP_FIELDS))
def test_signup_form_only_ever_reports_errors(db, referrer, data):
    # `referrer` holds alex.gp@clinic.example, so "already has an account" is reachable too.
    assert_validates_without_crashing(SignupForm(data))


def test_a_superscript_postcode_is_a_validation_error(draft_referral):
    """Superscript digits pass str.isdigit() but not int(): once a 500 for the GP."""
    form = PatientForm({"state": "VIC", "postcode": "³⁰⁵³"}, instance=draft_referral)
    assert not form.is_valid()
    assert "postcode" in form.errors
