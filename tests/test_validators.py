"""Australian identifiers: valid numbers built by the algorithm pass; altered ones fail."""

import random

import pytest
from django.core.exceptions import ValidationError

from portal.validators import (
    validate_ihi,
    validate_medicare_irn,
    validate_medicare_number,
    validate_provider_number,
)
from tests.factories import make_ihi, make_medicare_number, make_provider_number

rng = random.Random(20261124)


@pytest.mark.parametrize("number", [make_provider_number(rng) for _ in range(25)])
def test_valid_provider_numbers_pass(number):
    validate_provider_number(number)
    validate_provider_number(number.lower())


@pytest.mark.parametrize("number", [make_provider_number(rng) for _ in range(25)])
def test_a_provider_number_with_a_wrong_check_character_fails(number):
    wrong = next(c for c in "ABFHJKLTWXY" if c != number[-1])
    with pytest.raises(ValidationError, match="check character"):
        validate_provider_number(number[:-1] + wrong)


@pytest.mark.parametrize("number", ["", "123456", "12345678", "2123456", "2123456IY", "A123456Y"])
def test_a_malformed_provider_number_fails_with_the_format(number):
    with pytest.raises(ValidationError, match="six digits"):
        validate_provider_number(number)


@pytest.mark.parametrize("number", [make_medicare_number(rng) for _ in range(25)])
def test_valid_medicare_numbers_pass(number):
    validate_medicare_number(number)
    validate_medicare_number(f"{number[:4]} {number[4:9]} {number[9]}")


@pytest.mark.parametrize("number", [make_medicare_number(rng) for _ in range(25)])
def test_a_medicare_number_with_a_wrong_check_digit_fails(number):
    wrong = str((int(number[8]) + 1) % 10)
    with pytest.raises(ValidationError, match="check digit"):
        validate_medicare_number(number[:8] + wrong + number[9])


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


@pytest.mark.parametrize("number", [make_ihi(rng) for _ in range(25)])
def test_valid_ihis_pass_and_a_changed_digit_fails(number):
    validate_ihi(number)
    wrong = str((int(number[-1]) + 1) % 10)
    with pytest.raises(ValidationError, match="check digit"):
        validate_ihi(number[:-1] + wrong)


@pytest.mark.parametrize("number", ["8003601234567890"[:15], "9003608000000000", "800360abc"])
def test_an_ihi_of_the_wrong_shape_fails(number):
    with pytest.raises(ValidationError, match="16 digits starting 800360"):
        validate_ihi(number)
