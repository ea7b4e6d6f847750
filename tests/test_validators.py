"""Australian identifiers, against fixed numbers written out by hand: known-good ones pass, and
the same with a wrong check digit or character fail. (The portal's check functions are never
used to make the numbers they are tested on.)"""

import pytest
from django.core.exceptions import ValidationError

from portal.forms import SignupForm
from portal.validators import (
    validate_ihi,
    validate_medicare_irn,
    validate_medicare_number,
    validate_provider_number,
)
from referrals.forms.intake import PatientForm
from tests.factories import VALID_IHIS, VALID_MEDICARE_NUMBERS, VALID_PROVIDER_NUMBERS

# Each with its check digit or character wrong, worked out by hand.
BAD_MEDICARE_NUMBERS = ("5877893351", "6792174161", "2950123451", "2950123452", "6950123451")
BAD_PROVIDER_NUMBERS = ("2758922Y", "0754004L", "2123456A", "785025NX", "1716070W")
BAD_IHIS = ("8003603930955976", "8003602979262247", "8003601234567890", "8003600245892151")


@pytest.mark.parametrize("number", [*VALID_PROVIDER_NUMBERS, "2123456Y", "2426591T"])
def test_valid_provider_numbers_pass(number):
    validate_provider_number(number)
    validate_provider_number(number.lower())


@pytest.mark.parametrize("number", BAD_PROVIDER_NUMBERS)
def test_a_provider_number_with_a_wrong_check_character_fails(number):
    with pytest.raises(ValidationError, match="check character"):
        validate_provider_number(number)


@pytest.mark.parametrize("number", ["", "123456", "12345678", "2123456", "2123456IY", "A123456Y"])
def test_a_malformed_provider_number_fails_with_the_format(number):
    with pytest.raises(ValidationError, match="six digits"):
        validate_provider_number(number)


@pytest.mark.parametrize("number", [*VALID_MEDICARE_NUMBERS, "2950123481", "4260181592"])
def test_valid_medicare_numbers_pass(number):
    validate_medicare_number(number)
    validate_medicare_number(f"{number[:4]} {number[4:9]} {number[9]}")


@pytest.mark.parametrize("number", BAD_MEDICARE_NUMBERS)
def test_a_medicare_number_with_a_wrong_check_digit_fails(number):
    with pytest.raises(ValidationError, match="check digit"):
        validate_medicare_number(number)


@pytest.mark.parametrize("number", ["", "123", "29501234561", "1234567890", "abcdefghij"])
def test_a_malformed_medicare_number_fails(number):
    with pytest.raises(ValidationError):
        validate_medicare_number(number)


@pytest.mark.parametrize("irn", [1, 5, 9])
def test_irn_one_to_nine_passes(irn):
    validate_medicare_irn(irn)


@pytest.mark.parametrize("irn", [0, 10, -1, "1", None])
def test_irn_outside_one_to_nine_fails(irn):
    with pytest.raises(ValidationError, match="1 to 9"):
        validate_medicare_irn(irn)


@pytest.mark.parametrize("number", [*VALID_IHIS, "8003608166690503"])
def test_valid_ihis_pass(number):
    validate_ihi(number)


@pytest.mark.parametrize("number", BAD_IHIS)
def test_an_ihi_with_a_wrong_check_digit_fails(number):
    with pytest.raises(ValidationError, match="check digit"):
        validate_ihi(number)


@pytest.mark.parametrize("number", ["8003601234567890"[:15], "9003608000000000", "800360abc"])
def test_an_ihi_of_the_wrong_shape_fails(number):
    with pytest.raises(ValidationError, match="16 digits starting 800360"):
        validate_ihi(number)


def test_the_examples_the_forms_give_are_valid_numbers():
    """A doctor copies the example's shape: it must pass the check it illustrates."""
    medicare = PatientForm.Meta.help_texts["medicare_number"].split("e.g. ")[1].rstrip(".")
    validate_medicare_number(medicare)
    provider = SignupForm.base_fields["provider_number"].help_text.split("e.g. ")[1].rstrip(".")
    validate_provider_number(provider)
