"""The practice's forms: the actions on a referral and the triage queue's filters."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from eligibility.labels import OUTCOME_LABELS, criterion_statement
from portal.models import User
from referrals.attachments import document_checklist
from referrals.forms.fields import DateInput
from referrals.models import DeclineReason, Referral, Site


class AcceptForm(forms.Form):
    radiologist = forms.ModelChoiceField(
        label="Assign to interventional radiologist",
        queryset=User.objects.none(),
        empty_label="Choose…",
    )
    note = forms.CharField(
        label="Note (optional)", required=False, max_length=1000, widget=forms.TextInput()
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["radiologist"].queryset = User.objects.filter(
            is_active=True, groups__name="radiologist"
        ).order_by("last_name", "first_name")
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
        help_text="Each criterion not yet known and each document kind not yet sent.",
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
        for item in document_checklist(attachments):
            if not item["present"]:
                choices.append((f"document:{item['id']}", f"Document: {item['label']}"))
        self.fields["items"].choices = choices

    def chosen_items(self) -> list[dict]:
        labels = dict(self.fields["items"].choices)
        return [
            {"kind": value.split(":", 1)[0], "id": value.split(":", 1)[1], "label": labels[value]}
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
    site = forms.ModelChoiceField(
        label="Hospital", queryset=Site.objects.none(), empty_label="Choose…"
    )

    def __init__(self, *args, referral=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(is_active=True)
        if referral is not None and referral.preferred_site_id and not self.is_bound:
            self.initial["site"] = referral.preferred_site_id
        self.fields["date"].widget.attrs["min"] = timezone.localdate().isoformat()


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
    site = forms.ModelChoiceField(
        label="Hospital", required=False, queryset=Site.objects.none(), empty_label="Any"
    )
    radiologist = forms.ModelChoiceField(
        label="IR", required=False, queryset=User.objects.none(), empty_label="Any"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        statuses = [c for c in Referral.Status.choices if c[0] != Referral.Status.DRAFT]
        self.fields["status"].choices = [("", "Open (all)"), *statuses, ("all", "All")]
        self.fields["site"].queryset = Site.objects.all()
        self.fields["radiologist"].queryset = User.objects.filter(groups__name="radiologist")
        self.fields["radiologist"].label_from_instance = lambda u: u.get_full_name() or u.email
