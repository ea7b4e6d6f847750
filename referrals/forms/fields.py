"""Fields and widgets the portal's forms share."""

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

# A hint for the browser's file picker only; the type is decided from the content.
ACCEPT = ".pdf,.jpg,.jpeg,.png,.dcm,application/pdf,image/jpeg,image/png,application/dicom"

YES_NO_UNKNOWN = [("", "Not known"), ("yes", "Yes"), ("no", "No")]


def _to_bool(value):
    return {"yes": True, "no": False}.get(value)


class TriStateField(forms.TypedChoiceField):
    """Yes / No / Not known, stored as True / False / None (the rules treat None as unknown)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.RadioSelect)
        super().__init__(
            choices=YES_NO_UNKNOWN, coerce=_to_bool, empty_value=None, required=False, **kwargs
        )

    def prepare_value(self, value):
        return {True: "yes", False: "no"}.get(value, value if isinstance(value, str) else "")


def not_in_future(value: date | None, what: str) -> None:
    if value and value > timezone.localdate():
        raise ValidationError(f"The {what} cannot be in the future.")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)
