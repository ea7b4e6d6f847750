"""The intake form, one form per section, and the referrer's other forms. Fields are optional
while drafting; what the practice needs to submit is checked at submission
(referrals.intake.REQUIRED_TO_SUBMIT) and marked here."""

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.forms import inlineformset_factory
from django.utils import timezone

from eligibility.rules import LEVELS
from portal.validators import (
    normalise_medicare_number,
    validate_ihi,
    validate_medicare_number,
)
from referrals.forms.fields import (
    ACCEPT,
    DateInput,
    SiteChoiceField,
    TriStateField,
    choose_prompt,
    not_in_future,
)
from referrals.intake import REQUIRED_TO_SUBMIT
from referrals.models import Attachment, ImagingStudy, Medicine, Referral

# Postcode ranges by state (Australia Post), for catching a postcode in the wrong state.
POSTCODE_RANGES = {
    "NSW": [(1000, 2599), (2619, 2899), (2921, 2999)],
    "ACT": [(200, 299), (2600, 2618), (2900, 2920)],
    "VIC": [(3000, 3999), (8000, 8999)],
    "QLD": [(4000, 4999), (9000, 9999)],
    "SA": [(5000, 5999)],
    "WA": [(6000, 6999)],
    "TAS": [(7000, 7999)],
    "NT": [(800, 999)],
}


def raw_input(data) -> dict[str, list[str]]:
    """What was typed, as it came (CSRF token aside): kept on the draft until it validates."""
    return {key: data.getlist(key) for key in data if key != "csrfmiddlewaretoken"}


class SectionForm(forms.ModelForm):
    """Marks the fields needed to submit, and keeps every field optional while drafting."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = False
            if name in REQUIRED_TO_SUBMIT and not str(field.label).endswith("*"):
                field.label = f"{field.label} *"
        choose_prompt(self)

    def raw_input(self) -> dict[str, list[str]]:
        return raw_input(self.data)

    def _get_validation_exclusions(self):
        # The table's check constraints (pain score 0 to 10, IRN 1 to 9) are these forms'
        # choices already; left to full_clean, each autosave checked them again in a query in a
        # savepoint (three queries of a dozen). The database still enforces them.
        # Likewise the preferred hospital: its choice field has just found it among the active
        # sites, and full_clean would ask the database whether it exists.
        return super()._get_validation_exclusions() | {
            "pain_score", "medicare_irn", "preferred_site",
        }  # fmt: skip


class PatientForm(SectionForm):
    class Meta:
        model = Referral
        fields = [
            "patient_given_name",
            "patient_family_name",
            "patient_dob",
            "patient_sex",
            "medicare_number",
            "medicare_irn",
            "ihi",
            "patient_phone",
            "address_line",
            "suburb",
            "state",
            "postcode",
            "interpreter_needed",
            "interpreter_language",
            "preferred_site",
            "copy_to",
            "patient_consent",
        ]
        widgets = {"patient_dob": DateInput()}
        labels = {
            "patient_consent": "The patient consents to this referral and to the practice "
            "receiving their information",
            "interpreter_needed": "The patient needs an interpreter",
        }
        help_texts = {
            "patient_given_name": "As on the Medicare card.",
            "patient_family_name": "As on the Medicare card.",
            "patient_dob": "Day, month and year.",
            "patient_sex": "As the patient describes it.",
            "medicare_number": "The 10 digits on the card, e.g. 2950 12348 1.",
            "medicare_irn": "The single digit (1 to 9) beside the patient's name on the card.",
            "ihi": "Optional: the 16-digit Individual Healthcare Identifier, starting 800360.",
            "patient_phone": "A number the practice can call to book.",
            "address_line": "Street number and name.",
            "suburb": "",
            "state": "",
            "postcode": "Four digits.",
            "interpreter_language": "Needed if the patient needs an interpreter.",
            "copy_to": "Optional: another doctor to receive updates (name and practice).",
            "patient_consent": "Needed to submit.",
        }

    preferred_site = SiteChoiceField(
        label="Preferred hospital", required=False, empty_label="No preference",
        help_text="Where the patient would prefer the procedure, if anywhere.",
    )  # fmt: skip
    medicare_irn = forms.TypedChoiceField(
        label="Reference number (IRN) *",
        choices=[("", "—")] + [(str(n), str(n)) for n in range(1, 10)],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="The single digit (1 to 9) beside the patient's name on the card.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["medicare_number"].widget.attrs.update(inputmode="numeric", autocomplete="off")
        self.fields["postcode"].widget.attrs.update(inputmode="numeric", maxlength=4)
        self.fields["ihi"].widget.attrs.update(inputmode="numeric", autocomplete="off")
        self.fields["patient_dob"].widget.attrs["max"] = timezone.localdate().isoformat()

    def clean_patient_dob(self):
        dob = self.cleaned_data.get("patient_dob")
        if dob:
            not_in_future(dob, "date of birth")
            today = timezone.localdate()
            if dob.year < today.year - 120:
                raise ValidationError("Check the year: that would make the patient over 120.")
            if dob > today.replace(year=today.year - 18):
                raise ValidationError(
                    "Check the year: the practice treats adults, and this makes the patient "
                    "under 18."
                )
        return dob

    def clean_medicare_number(self):
        number = normalise_medicare_number(self.cleaned_data.get("medicare_number", ""))
        if number:
            validate_medicare_number(number)
        return number

    def clean_ihi(self):
        number = (self.cleaned_data.get("ihi") or "").replace(" ", "")
        if number:
            validate_ihi(number)
        return number

    def clean_postcode(self):
        postcode = (self.cleaned_data.get("postcode") or "").strip()
        # isascii: str.isdigit() is also true of digits such as "³" that int() cannot read.
        if postcode and not (len(postcode) == 4 and postcode.isascii() and postcode.isdigit()):
            raise ValidationError("A postcode is four digits, e.g. 3053.")
        return postcode

    def clean(self):
        cleaned = super().clean()
        state, postcode = cleaned.get("state"), cleaned.get("postcode")
        if state and postcode and "postcode" not in self.errors:
            number = int(postcode)
            if not any(low <= number <= high for low, high in POSTCODE_RANGES[state]):
                self.add_error("postcode", f"Postcode {postcode} is not in {state}.")
        return cleaned


class ClinicalForm(SectionForm):
    levels = forms.MultipleChoiceField(
        label="Fracture level or levels *",
        choices=[(level, level) for level in LEVELS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Tick each fractured vertebra. The criteria cover T11, T12, L1 and L2.",
    )
    pain_score = forms.TypedChoiceField(
        label="Pain score now *",
        choices=[("", "—")] + [(str(n), str(n)) for n in range(11)],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Numeric rating 0 (no pain) to 10 (worst imaginable).",
    )
    mri_contraindicated = TriStateField(
        label="Is MRI contraindicated?",
        help_text="If so, an acute fracture on SPECT-CT is accepted instead of MRI.",
    )
    canal_compromise = TriStateField(
        label="Spinal canal compromise?", help_text="Retropulsed fragment or canal narrowing."
    )
    neurological_deficit = TriStateField(
        label="Neurological deficit?", help_text="New weakness, numbness, bladder or bowel signs."
    )
    healed_fracture = TriStateField(
        label="Chronic, healed fracture?", help_text="Imaging shows the fracture has healed."
    )
    anticoagulation_reviewed = TriStateField(
        label="Anticoagulant and antiplatelet medicines reviewed?",
        help_text="List them in the imaging and medicines section.",
    )

    class Meta:
        model = Referral
        fields = [
            "levels",
            "cause",
            "pain_score",
            "pain_onset",
            "opioid_response",
            "mri_contraindicated",
            "mri_contraindication_reason",
            "coagulopathy",
            "infection",
            "canal_compromise",
            "neurological_deficit",
            "healed_fracture",
            "anticoagulation_reviewed",
            "coag_profile_on",
            "inr",
            "platelets",
            "history",
            "current_analgesia",
            "allergies",
            "osteoporosis_treatment",
        ]
        widgets = {
            "cause": forms.RadioSelect,
            "opioid_response": forms.RadioSelect,
            "coagulopathy": forms.RadioSelect,
            "infection": forms.RadioSelect,
            "pain_onset": DateInput(),
            "coag_profile_on": DateInput(),
            "history": forms.Textarea(attrs={"rows": 2}),
            "current_analgesia": forms.Textarea(attrs={"rows": 2}),
            "allergies": forms.Textarea(attrs={"rows": 2}),
            "osteoporosis_treatment": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            "cause": "Cause of the fracture",
            "pain_onset": "Date the pain began",
            "opioid_response": "Response to opiate analgesia",
            "mri_contraindication_reason": "Why MRI is contraindicated",
            "coagulopathy": "Coagulopathy",
            "infection": "Infection",
            "coag_profile_on": "Date of the latest coagulation profile",
        }
        help_texts = {
            "cause": "The criteria cover osteoporotic fractures; others are for the IR to decide.",
            "pain_onset": "The criteria ask for pain of three weeks or less.",
            "opioid_response": "The criteria ask for pain poorly controlled by opiates.",
            "mri_contraindication_reason": "For example a pacemaker or claustrophobia.",
            "coagulopathy": "A bleeding disorder, and whether it is corrected.",
            "infection": "Systemic or local (at the site) infection.",
            "coag_profile_on": "Recent means within the last 30 days.",
            "inr": "From the latest coagulation profile.",
            "platelets": "From the latest full blood count.",
            "history": "The fall or event, symptoms and relevant history.",
            "current_analgesia": "Medicines and doses.",
            "allergies": "Including to contrast, cement or sedation.",
            "osteoporosis_treatment": "Current and past treatment, e.g. denosumab.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("cause", "opioid_response", "coagulopathy", "infection"):
            if name not in self.fields:  # a form of some of the fields (an answer's)
                continue
            field = self.fields[name]
            field.choices = [("", "Not known")] + [c for c in field.choices if c[0] != ""]
        today = timezone.localdate().isoformat()
        for name in ("pain_onset", "coag_profile_on"):
            if name in self.fields:
                self.fields[name].widget.attrs["max"] = today

    def clean_pain_onset(self):
        value = self.cleaned_data.get("pain_onset")
        not_in_future(value, "date the pain began")
        return value

    def clean_coag_profile_on(self):
        value = self.cleaned_data.get("coag_profile_on")
        not_in_future(value, "coagulation profile date")
        return value

    def clean_levels(self):
        chosen = set(self.cleaned_data.get("levels") or [])
        return [level for level in LEVELS if level in chosen]  # spinal order

    def clean_inr(self):
        inr = self.cleaned_data.get("inr")
        if inr is not None and not (0.5 <= inr <= 10):
            raise ValidationError("An INR is between 0.5 and 10; please check it.")
        return inr

    def clean_platelets(self):
        platelets = self.cleaned_data.get("platelets")
        if platelets is not None and platelets > 2000:
            raise ValidationError("Platelets are in ×10⁹/L, e.g. 250; please check it.")
        return platelets


class ImagingStudyForm(forms.ModelForm):
    acute_fracture = TriStateField(label="Acute fracture seen?")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choose_prompt(self)

    class Meta:
        model = ImagingStudy
        fields = ["modality", "performed_on", "acute_fracture", "location"]
        widgets = {"performed_on": DateInput()}
        help_texts = {"location": "Practice or hospital."}

    def clean_performed_on(self):
        value = self.cleaned_data.get("performed_on")
        not_in_future(value, "imaging date")
        return value


class MedicineForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choose_prompt(self)

    class Meta:
        model = Medicine
        fields = ["kind", "name", "dose", "plan"]
        help_texts = {"plan": "E.g. withheld 5 days before, bridging."}


ImagingFormSet = inlineformset_factory(
    Referral, ImagingStudy, form=ImagingStudyForm, extra=1, can_delete=True, max_num=20
)
MedicineFormSet = inlineformset_factory(
    Referral, Medicine, form=MedicineForm, extra=1, can_delete=True, max_num=30
)


class ImagingSection:
    """The imaging studies and medicines formsets, validated and saved together."""

    def __init__(self, data=None, *, instance):
        self.instance = instance
        self.imaging = ImagingFormSet(data, instance=instance, prefix="imaging")
        self.medicines = MedicineFormSet(data, instance=instance, prefix="medicines")
        self.data = data

    def is_valid(self) -> bool:
        return all([self.imaging.is_valid(), self.medicines.is_valid()])

    def save(self):
        self.imaging.save()
        self.medicines.save()

    def has_changed(self) -> bool:
        return self.imaging.has_changed() or self.medicines.has_changed()

    def raw_input(self) -> dict[str, list[str]]:
        return raw_input(self.data)

    def saved_row_inputs(self) -> list[dict]:
        """After an autosave: the hidden inputs the page must update so the rows just created
        are sent as existing rows next time (else each autosave would add them again)."""
        inputs = []
        for formset in (self.imaging, self.medicines):
            initial = formset.initial_form_count()
            created = [f for f in formset.forms[initial:] if f.instance.pk]
            for form in created:
                bound = form[form._meta.model._meta.pk.name]
                inputs.append(
                    {"name": bound.html_name, "id": bound.auto_id, "value": form.instance.pk}
                )
            management = formset.management_form["INITIAL_FORMS"]
            inputs.append(
                {
                    "name": management.html_name,
                    "id": management.auto_id,
                    "value": initial + len(created),
                }
            )
        return inputs

    @property
    def errors_summary(self) -> list[tuple[str, str]]:
        """(field id, message) for the error summary at the top of the section."""
        found = []
        for label, formset in (("Imaging", self.imaging), ("Medicine", self.medicines)):
            for error in formset.non_form_errors():
                found.append(("", f"{label}: {error}"))
            for index, form in enumerate(formset.forms, start=1):
                for name, errors in form.errors.items():
                    field_id = form[name].id_for_label if name in form.fields else ""
                    for error in errors:
                        found.append((field_id, f"{label} row {index}: {error}"))
        return found


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe): a list of checked files."""

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data] or (
                super().clean(None, initial)
            )
        return [super().clean(data, initial)]


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(
        label="What is it?",
        choices=[("", "Choose…")] + list(Attachment.Kind.choices),
        help_text="Several files of each kind are fine.",
    )
    file = MultipleFileField(
        label="File",
        help_text="PDF, JPEG, PNG or DICOM (.dcm), up to 100 MB each.",
        widget=MultipleFileInput(attrs={"accept": ACCEPT}),
    )
    # One token per file sent: the page's script sends each file alone with a token of its own
    # (static/js/intake.js); without JavaScript, the one made with the page, one derived from
    # it per file (referrals/views/files.py). A POST repeated with the same token stores
    # nothing more (referrals/attachments.py).
    upload_token = forms.UUIDField(
        required=False,
        initial=uuid.uuid4,
        widget=forms.HiddenInput(attrs={"class": "upload-token"}),
    )


class SubmitForm(forms.Form):
    outside_criteria_reason = forms.CharField(
        label="Why are you referring although the criteria are not all met?",
        help_text="A sentence or two; the interventional radiologist will decide.",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label="Note to the practice (optional)",
        help_text="Optional: anything to add to the items above.",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Message", max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    kind = forms.ChoiceField(
        label="Attach a document (optional): what is it?",
        required=False,
        choices=[("", "No document"), *Attachment.Kind.choices],
    )
    file = forms.FileField(label="Document", required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("file") and not cleaned.get("kind"):
            self.add_error("kind", "Say what kind of document this is.")
        return cleaned
