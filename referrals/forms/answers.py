"""The referrer's answer to a request for information, item by item: a criterion's facts as a
small form of just those fields (the clinical section's own fields and checks), a document
kind as an upload of that kind."""

from django import forms

from referrals.forms.intake import AttachmentForm, ClinicalForm
from referrals.models import Attachment, Referral

# The facts each criterion is decided on (eligibility/criteria.py), as the clinical section's
# fields. Imaging studies themselves are rows of the imaging section, linked from the item.
CRITERION_FIELDS = {
    "level": ["levels"],
    "osteoporotic": ["cause"],
    "pain_severity": ["pain_score"],
    "opioid_refractory": ["opioid_response"],
    "pain_duration": ["pain_onset"],
    "acute_imaging": ["mri_contraindicated", "mri_contraindication_reason"],
    "coagulopathy": ["coagulopathy"],
    "infection": ["infection"],
    "canal_compromise_deficit": ["canal_compromise", "neurological_deficit"],
    "healed_fracture": ["healed_fracture"],
    "workup_mri": ["mri_contraindicated", "mri_contraindication_reason"],
    "workup_coagulation": ["coag_profile_on", "inr", "platelets"],
    "workup_anticoagulation": ["anticoagulation_reviewed"],
}
# Criteria whose facts include imaging studies: the item links to the imaging section too.
IMAGING_CRITERIA = {"acute_imaging", "workup_mri"}


def criterion_form(referral: Referral, item: dict, index: int, data=None):
    """The form of one criterion item's facts, or None for a criterion without fields here."""
    fields = CRITERION_FIELDS.get(item["id"])
    if not fields:
        return None
    form_class = forms.modelform_factory(Referral, form=ClinicalForm, fields=fields)
    form = form_class(data, instance=referral, prefix=f"item{index}")
    # The clinical form declares some fields itself, which Meta.fields does not leave out: keep
    # only this criterion's, so saving the answer never touches another fact.
    for name in list(form.fields):
        if name not in fields:
            del form.fields[name]
    return form


class ItemUploadForm(AttachmentForm):
    """An upload answering a document item: its kind is the one asked for, not a choice."""

    def __init__(self, *args, kind: str, index: int, **kwargs):
        super().__init__(*args, prefix=f"item{index}", **kwargs)
        del self.fields["kind"]
        self.fields["file"] = forms.FileField(help_text=self.fields["file"].help_text)
        self.fields["file"].label = f"Add {Attachment.Kind(kind).label.lower()}"


def answer_items(referral: Referral, request, attachments, *, bound: dict | None = None):
    """Each item of the request with its form and state: (item, form, answered, added), where
    `added` are the documents of that kind added since the request."""
    bound = bound or {}
    rows = []
    for index, item in enumerate(request.items):
        added = []
        if item["kind"] == "document":
            kinds = {item["id"]} if item["id"] in Attachment.Kind.values else _checklist(item)
            added = [
                a for a in attachments if a.kind in kinds and a.uploaded_at >= request.requested_at
            ]
            form = bound.get(index) or (
                ItemUploadForm(kind=upload_kind(item), index=index) if request.open else None
            )
            answered = bool(added)
        else:
            form = bound.get(index) or (
                criterion_form(referral, item, index) if request.open else None
            )
            answered = bool(item.get("answered_at"))
        rows.append(
            {
                "index": index,
                "item": item,
                "form": form,
                "answered": answered,
                "added": added,
                "imaging": item["id"] in IMAGING_CRITERIA,
            }
        )
    return rows


def _checklist(item: dict) -> set[str]:
    """The kinds that meet an older request's checklist item ("imaging": report or images)."""
    for item_id, _label, accepted in Attachment.CHECKLIST:
        if item_id == item["id"]:
            return {str(kind) for kind in accepted}
    return {Attachment.Kind.OTHER}


def upload_kind(item: dict) -> str:
    if item["id"] in Attachment.Kind.values:
        return item["id"]
    return sorted(_checklist(item))[0]
