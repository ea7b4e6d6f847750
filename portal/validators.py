"""Australian health identifiers: Medicare provider number, Medicare card number, IHI.

Each `validate_*` raises ValidationError with a message a GP can act on; each `*_check_*`
helper computes the check value (the demo data use it to make valid numbers).
"""

import re

from django.core.exceptions import ValidationError

# Medicare provider number: six-digit stem, a practice-location character, a check character.
# check = (stem digits weighted 3,5,8,4,2,1 + location value x 6) mod 11 -> "YXWTLKJHFBA".
PROVIDER_LOCATION_CHARS = "0123456789ABCDEFGHJKLMNPQRTUVWXY"
PROVIDER_CHECK_CHARS = "YXWTLKJHFBA"
_PROVIDER_WEIGHTS = (3, 5, 8, 4, 2, 1)
_PROVIDER_RE = re.compile(r"^(\d{6})([0-9A-Z])([A-Z])$")


def provider_check_character(stem: str, location: str) -> str:
    total = sum(int(d) * w for d, w in zip(stem, _PROVIDER_WEIGHTS, strict=True))
    total += PROVIDER_LOCATION_CHARS.index(location) * 6
    return PROVIDER_CHECK_CHARS[total % 11]


def normalise_provider_number(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def validate_provider_number(value: str) -> None:
    number = normalise_provider_number(value)
    match = _PROVIDER_RE.match(number)
    if not match or match.group(2) not in PROVIDER_LOCATION_CHARS:
        raise ValidationError(
            "Enter a Medicare provider number: six digits, a location character and a check "
            "character, e.g. 2123456Y.",
            code="provider_format",
        )
    stem, location, check = match.groups()
    if provider_check_character(stem, location) != check:
        raise ValidationError(
            "This provider number's check character does not match; please check it.",
            code="provider_check",
        )


# Medicare card number: 10 digits. The first is 2 to 6; the ninth is a check digit over the
# first eight weighted 1,3,7,9,1,3,7,9 (mod 10); the tenth is the card's issue number.
_MEDICARE_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9)


def medicare_check_digit(first_eight: str) -> int:
    return sum(int(d) * w for d, w in zip(first_eight, _MEDICARE_WEIGHTS, strict=True)) % 10


def normalise_medicare_number(value: str) -> str:
    return re.sub(r"[\s-]+", "", value or "")


def validate_medicare_number(value: str) -> None:
    number = normalise_medicare_number(value)
    if not re.fullmatch(r"\d{10}", number):
        raise ValidationError(
            "Enter the 10-digit Medicare card number (without the reference number).",
            code="medicare_format",
        )
    if number[0] not in "23456":
        raise ValidationError("A Medicare card number starts with 2 to 6.", code="medicare_start")
    if medicare_check_digit(number[:8]) != int(number[8]):
        raise ValidationError(
            "This Medicare card number's check digit does not match; please check it.",
            code="medicare_check",
        )


def validate_medicare_irn(value) -> None:
    if not (isinstance(value, int) and 1 <= value <= 9):
        raise ValidationError(
            "The reference number (IRN) is the single digit 1 to 9 beside the patient's name.",
            code="medicare_irn",
        )


# Individual Healthcare Identifier: 16 digits, prefix 800360, Luhn check over all 16.
IHI_PREFIX = "800360"


def luhn_check_digit(partial: str) -> int:
    """The digit to append to `partial` so the whole passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def validate_ihi(value: str) -> None:
    number = re.sub(r"\s+", "", value or "")
    if not re.fullmatch(r"\d{16}", number) or not number.startswith(IHI_PREFIX):
        raise ValidationError(
            f"An IHI is 16 digits starting {IHI_PREFIX}.",
            code="ihi_format",
        )
    if luhn_check_digit(number[:15]) != int(number[15]):
        raise ValidationError(
            "This IHI's check digit does not match; please check it.", code="ihi_check"
        )
