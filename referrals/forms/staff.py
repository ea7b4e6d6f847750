"""The practice's forms: the actions on a referral and the triage queue's filters."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from eligibility.labels import OUTCOME_LABELS, criterion_statement
from portal.models import User
from portal.process_copy import ProcessCopy
from portal.roles import RADIOLOGIST
from referrals.booking import date_concerns
from referrals.forms.fields import DateInput, SiteChoiceField
from referrals.models import Attachment, DeclineReason, Referral


class AcceptForm(forms.Form):
    radiologist = forms.ModelChoiceField(
        label="Assign to interventional radiologist",
        queryset=User.objects.none(),
        empty_label="Choose…",
    )
    note = forms.CharField(
        label="Note (optional)", required=False, max_length=1000, widget=forms.TextInput()
    )

    def __init__(self, *args, referral=None, **kwargs):
        super().__init__(*args, **kwargs)
        radiologists = User.objects.filter(is_active=True, groups__name="radiologist")
        if referral is not None and referral.assigned_radiologist_id:
            # Reassigning: to someone else.
            radiologists = radiologists.exclude(pk=referral.assigned_radiologist_id)
            self.fields["radiologist"].label = "Reassign to interventional radiologist"
        self.fields["radiologist"].queryset = radiologists.order_by("last_name", "first_name")
        self.fields["radiologist"].label_from_instance = lambda u: u.get_full_name() or u.email


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(label="Reason", choices=[("", "Choose…"), *DeclineReason.choices])
    note = forms.CharField(
        label="Note to the referrer",
        required=False,
        max_length=2000,
        help_text="Needed when the reason is “Other”. Advice for the patient's care that fits "
        "the reason is added for the referrer.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class InfoRequestForm(forms.Form):
    items = forms.MultipleChoiceField(
        label="What is missing",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each criterion not yet known, and any kind of document (even one already "
        "sent: the formal MRI report beside the images, say). Say more in the note.",
    )
    note = forms.CharField(
        label="Note to the referrer",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, referral, attachments, **kwargs):
        super().__init__(*args, **kwargs)
        choices = []
        for criterion in (referral.eligibility or {}).get("criteria", []):
            if criterion["status"] == "unknown":
                # As the statement ("Coagulopathy: not known"): the criterion's own wording
                # ("Uncorrected coagulopathy") would read as if the patient had it.
                choices.append(
                    (f"criterion:{criterion['id']}", criterion_statement(criterion)["statement"])
                )
        sent = {a.kind for a in attachments}
        for kind, label in Attachment.Kind.choices:
            missing = "" if kind in sent else " (none sent yet)"
            choices.append((f"document:{kind}", f"Document: {label}{missing}"))
        self.fields["items"].choices = choices

    def chosen_items(self) -> list[dict]:
        labels = dict(self.fields["items"].choices)
        return [
            {
                "kind": value.split(":", 1)[0],
                "id": value.split(":", 1)[1],
                "label": labels[value].removesuffix(" (none sent yet)"),
            }
            for value in self.cleaned_data["items"]
        ]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("items") and not (cleaned.get("note") or "").strip():
            raise ValidationError("Tick what is missing or write a note.")
        return cleaned


class BookForm(forms.Form):
    date = forms.DateField(label="Date", widget=DateInput())
    time = forms.TimeField(label="Time", widget=forms.TimeInput(attrs={"type": "time"}))
    site = SiteChoiceField(label="Hospital", empty_label="Choose…")
    confirm = forms.BooleanField(
        label="Book on this date anyway",
        required=False,
        help_text="Needed only when the date is a weekend, a public holiday or after the "
        "criteria's window closed.",
    )

    def __init__(self, *args, referral=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.referral = referral
        self.concerns: list[str] = []
        if referral is not None and referral.preferred_site_id and not self.is_bound:
            self.initial["site"] = referral.preferred_site_id
        self.fields["date"].widget.attrs["min"] = timezone.localdate().isoformat()

    def clean(self):
        cleaned = super().clean()
        day = cleaned.get("date")
        if day and self.referral is not None:
            self.concerns = date_concerns(day, self.referral)
            if self.concerns and not cleaned.get("confirm"):
                self.add_error(
                    "confirm",
                    " ".join(self.concerns) + " Tick “Book on this date anyway” to confirm.",
                )
        return cleaned


class NoteForm(forms.Form):
    note = forms.CharField(
        label="Note (optional)", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip


class QueueFilterForm(forms.Form):
    """The triage queue's filters (GET). Blank status means every open referral."""

    q = forms.CharField(label="Search", required=False, max_length=100,
                        help_text="Name, Medicare number or reference.")  # fmt: skip
    status = forms.ChoiceField(label="Status", required=False)
    outcome = forms.ChoiceField(
        label="Eligibility",
        required=False,
        choices=[("", "Any"), *OUTCOME_LABELS.items()],
    )
    site = SiteChoiceField(label="Hospital", required=False, empty_label="Any", active_only=False)
    radiologist = forms.TypedChoiceField(label="IR", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        statuses = [c for c in Referral.Status.choices if c[0] != Referral.Status.DRAFT]
        self.fields["status"].choices = [
            ("", "Open (waiting on the practice)"),
            ("answered", "Answered: needs review"),
            *statuses,
            ("all", "All"),
        ]
        self.fields["radiologist"].choices = [("", "Any"), *filter_radiologists.get()]


def radiologist_choices() -> list[tuple[str, str]]:
    """(id, name) of every IR, by name: one small query, led by the group's unique name and the
    user-groups table's group_id index (not a scan of every account). The queue's filter bar
    reads it from the process's copy (`filter_radiologists`): an IR added or renamed shows
    there within PRACTICE_DETAILS_CACHE_SECONDS, at once in the process that saved them."""
    members = User.groups.through.objects.filter(group__name=RADIOLOGIST).values("user_id")
    people = User.objects.filter(pk__in=members).order_by("last_name", "first_name", "pk")
    return [
        (str(pk), f"{first} {last}".strip() or email)
        for pk, first, last, email in people.values_list("pk", "first_name", "last_name", "email")
    ]


filter_radiologists = ProcessCopy(radiologist_choices)
