"""Fields and widgets the portal's forms share."""

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.process_copy import ProcessCopy
from referrals.models import Site

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


CHOOSE = "Choose…"


def choose_prompt(form) -> None:
    """Every drop-down's empty choice reads "Choose…" (Django's "---------" and "—" do not say
    what to do); radio groups keep theirs ("Not known" is an answer), as do choices that mean
    something ("No preference")."""
    for field in form.fields.values():
        widget = field.widget
        if not isinstance(widget, forms.Select) or isinstance(widget, forms.RadioSelect):
            continue
        if isinstance(field, forms.ModelChoiceField):
            if field.empty_label is not None and field.empty_label.startswith(("-", "—")):
                field.empty_label = CHOOSE
            continue
        choices = list(field.choices)
        if choices and choices[0][0] in ("", None) and str(choices[0][1]).startswith(("-", "—")):
            field.choices = [("", CHOOSE), *choices[1:]]


# The practice's hospitals, for the forms that offer them (the patient's preferred one, booking,
# the queue's filter): one query a PRACTICE_DETAILS_CACHE_SECONDS in a process, not one a form
# (portal.process_copy; a save in the admin forgets it, referrals.apps).
all_sites = ProcessCopy(lambda: list(Site.objects.order_by("name", "pk")))


class _CopiedSites(forms.models.ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for site in self.field.sites():
            yield self.choice(site)

    def __len__(self):
        return len(self.field.sites()) + (self.field.empty_label is not None)

    def __bool__(self):
        return self.field.empty_label is not None or bool(self.field.sites())


class SiteChoiceField(forms.ModelChoiceField):
    """A hospital, from the process's copy of the sites: the active ones, or all of them (the
    queue's filter finds referrals at a hospital no longer offered)."""

    iterator = _CopiedSites

    def __init__(self, *, active_only: bool = True, **kwargs):
        super().__init__(queryset=Site.objects.none(), **kwargs)
        self.active_only = active_only

    def sites(self) -> list:
        sites = all_sites.get()
        return [site for site in sites if site.is_active] if self.active_only else sites

    def to_python(self, value):
        if value in self.empty_values:
            return None
        for site in self.sites():
            if str(site.pk) == str(value):
                return site
        raise ValidationError(
            self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
        )
