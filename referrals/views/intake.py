"""The referring doctor's side: their referrals, the sectioned form with autosave and its
criteria panel, the documents and review steps, withdrawing, answering a request."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.forms import error_summary
from portal.roles import REFERRER, role_required
from referrals import workflow
from referrals.access import referral_for_user
from referrals.attachments import document_checklist
from referrals.errors import SubmissionIncomplete, TransitionNotAllowed
from referrals.forms.intake import (
    AnswerForm,
    AttachmentForm,
    ClinicalForm,
    ImagingSection,
    PatientForm,
    SubmitForm,
    WithdrawForm,
)
from referrals.intake import (
    referral_assessment,
    referral_can_edit,
    referral_create,
    referral_missing_for_submit,
    referral_save_section,
)
from referrals.models import Attachment, ImagingStudy, Medicine, Referral
from referrals.selectors import current_attachments, possible_duplicates, referrals_for_dashboard
from referrals.views.referral import panel_context, render_detail

SECTIONS = [
    ("patient", "Patient"),
    ("clinical", "Clinical details"),
    ("imaging", "Imaging and medicines"),
    ("documents", "Documents"),
    ("review", "Review and submit"),
]
FORMS = {"patient": PatientForm, "clinical": ClinicalForm, "imaging": ImagingSection}
# The sections that hold the eligibility facts (referrals.intake.referral_facts): a change to
# one of them changes the criteria panel.
CRITERIA_SECTIONS = ("clinical", "imaging")


def _querydict(raw: dict) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, values in raw.items():
        data.setlist(key, values)
    return data


def _section_form(section: str, referral: Referral, data=None):
    """The bound form: the POST, else the kept raw input of an earlier failed save, else the
    saved fields."""
    if data is None and section in (referral.draft_data or {}):
        data = _querydict(referral.draft_data[section])
    return FORMS[section](data, instance=referral)


# The task list's words for a section's state (GOV.UK's task list pattern).
COMPLETED, NEEDS_ATTENTION, NOT_STARTED = "Completed", "Needs attention", "Not started"
READY = "Ready to send"


def _filled(referral: Referral, names) -> bool:
    return any(getattr(referral, name) not in (None, "", [], False) for name in names)


def section_states(referral: Referral) -> dict[str, str]:
    """Each section's state for the task list: completed, needs attention (input kept that
    does not validate, or something needed to send it is missing) or not started. One query
    (whether studies, medicines and documents exist)."""
    found = (
        Referral.objects.filter(pk=referral.pk)
        .annotate(
            has_imaging=Exists(ImagingStudy.objects.filter(referral=OuterRef("pk"))),
            has_medicines=Exists(Medicine.objects.filter(referral=OuterRef("pk"))),
            has_documents=Exists(Attachment.objects.filter(referral=OuterRef("pk"))),
        )
        .values("has_imaging", "has_medicines", "has_documents")
        .first()
    ) or {}
    kept = referral.draft_data or {}
    missing = {section for section, _field, _message in referral_missing_for_submit(referral)}
    states = {}
    for section, form in (("patient", PatientForm), ("clinical", ClinicalForm)):
        if section in kept or (section in missing and _filled(referral, form._meta.fields)):
            states[section] = NEEDS_ATTENTION
        elif section in missing:
            states[section] = NOT_STARTED
        else:
            states[section] = COMPLETED
    if "imaging" in kept:
        states["imaging"] = NEEDS_ATTENTION
    elif found.get("has_imaging") or found.get("has_medicines"):
        states["imaging"] = COMPLETED
    else:
        states["imaging"] = NOT_STARTED
    states["documents"] = COMPLETED if found.get("has_documents") else NOT_STARTED
    states["review"] = NEEDS_ATTENTION if missing else READY
    return states


def _save_retrying(referral: Referral, section: str, data):
    """Save the section from `data`, once more on a new connection if the database dropped the
    first (a terminated connection is not reused). Returns (saved, form); raises DatabaseError
    if the second attempt fails too."""
    form = FORMS[section](data, instance=referral)
    try:
        return referral_save_section(referral=referral, section=section, form=form), form
    except DatabaseError:
        if connection.in_atomic_block:
            raise
        connection.close()
    referral = Referral.objects.get(pk=referral.pk)
    form = FORMS[section](data, instance=referral)
    return referral_save_section(referral=referral, section=section, form=form), form


DATABASE_DOWN = "The database did not answer; your answers are still here, try Save again."


def _database_unavailable(request, referral, section):
    """503: the section form again with what was posted, and a note to try again. Nothing
    typed is lost; without the database even for this, a plain page says the same."""
    connection.close()
    try:
        form = FORMS[section](request.POST, instance=referral)
        context = _section_context(request, referral, section, form=form, error_summary=[],
                                   db_unavailable=DATABASE_DOWN)  # fmt: skip
        return render(request, f"referrals/section_{section}.html", context, status=503)
    except DatabaseError:
        connection.close()
        body = render_to_string("503.html", {"message": DATABASE_DOWN})
        return HttpResponse(body, status=503)


def _editable_or_redirect(request, referral):
    if referral_can_edit(referral):
        return None
    messages.info(request, f"{referral.reference} has been sent and can no longer be edited.")
    return redirect("referral_detail", referral.uuid)


def _section_context(request, referral, section, **extra):
    titles = dict(SECTIONS)
    index = [s for s, _ in SECTIONS].index(section)
    return {
        "referral": referral,
        "section": section,
        "section_title": titles[section],
        "sections": SECTIONS,
        "section_states": section_states(referral),
        "next_section": SECTIONS[index + 1][0] if index + 1 < len(SECTIONS) else None,
        "profile": getattr(request.user, "referrer_profile", None),
        "age": referral.patient_age(timezone.localdate()),
        "level_regions": [("Cervical", "C"), ("Thoracic", "T"), ("Lumbar", "L"), ("Sacral", "S")],
        **panel_context(referral),
        **extra,
    }


@role_required(REFERRER)
def referral_list(request):
    """The referring doctor's own referrals, newest first."""
    page = Paginator(referrals_for_dashboard(request.user), 25).get_page(request.GET.get("page"))
    today = timezone.localdate()
    for referral in page.object_list:
        # Sent referrals show the result they were sent with; drafts a live one.
        if referral.eligibility_outcome:
            referral.outcome_shown = referral.eligibility_outcome
        else:
            assessment, _problems = referral_assessment(referral, today=today)
            referral.outcome_shown = assessment.outcome if assessment else ""
    return render(
        request,
        "referrals/referral_list.html",
        {"page": page, "referrals": page.object_list, "profile": request.user.referrer_profile},
    )


@role_required(REFERRER)
@require_POST
def referral_new(request):
    referral = referral_create(referrer=request.user)
    return redirect("referral_section", referral.uuid, "patient")


@role_required(REFERRER)
def referral_section(request, referral_uuid, section):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    if (response := _editable_or_redirect(request, referral)) is not None:
        return response
    if section == "documents":
        return documents_section(request, referral)
    if section == "review":
        return _review_section(request, referral)
    if section not in FORMS:
        return redirect("referral_section", referral.uuid, "patient")
    if request.method == "POST":
        try:
            saved, form = _save_retrying(referral, section, request.POST)
        except DatabaseError:
            return _database_unavailable(request, referral, section)
        if saved:
            if "add_row" in request.POST:
                return redirect(reverse("referral_section", args=[referral.uuid, section]))
            messages.success(request, "Saved.")
            target = request.POST.get("next") or section
            if target not in dict(SECTIONS):
                target = section
            return redirect("referral_section", referral.uuid, target)
    else:
        form = _section_form(section, referral)
    context = _section_context(
        request, referral, section, form=form, error_summary=error_summary(form)
    )
    return render(request, f"referrals/section_{section}.html", context)


@role_required(REFERRER)
@require_POST
def referral_autosave(request, referral_uuid, section):
    """htmx: save as the doctor types. Returns the save status, each field's error, and the
    criteria panel again when this save changed a fact it shows (the patient's details never
    do: that panel in the page stays as it is)."""
    referral = referral_for_user(request.user, referral_uuid, action="edit", related=())
    if section not in FORMS or not referral_can_edit(referral):
        return HttpResponse("This referral can no longer be changed.", status=409)
    try:
        valid, form = _save_retrying(referral, section, request.POST)
        referral = form.instance  # a retry's is read afresh
        if not valid:  # the form set what it could clean on the instance: read back what is saved
            referral.refresh_from_db()
    except DatabaseError:
        # htmx shows this note (base.html's responseHandling swaps a 503); what was typed stays
        # in the page, and the next change or Save sends it again.
        connection.close()
        return HttpResponse(render_to_string("referrals/_autosave_unavailable.html"), status=503)
    # Each field's error for the page's script to put beside the field, and the fields the
    # note names ("Medicare card number: …" is label, then message).
    field_errors = [
        (field_id, *text.split(": ", 1)) if ": " in text else (field_id, "", text)
        for field_id, text in ([] if valid else error_summary(form))
    ]
    labels = list(dict.fromkeys(label for _, label, _ in field_errors if label))
    context = {
        "referral": referral,
        "valid": valid,
        "field_errors": field_errors,
        "error_labels": labels,
        "saved_at": timezone.localtime(),
        "row_inputs": form.saved_row_inputs() if valid and section == "imaging" else [],
        "panel": section in CRITERIA_SECTIONS and valid and form.has_changed(),
    }
    if context["panel"]:
        context.update(panel_context(referral))
    return render(request, "referrals/_autosave.html", context)


@role_required(REFERRER)
def referral_panel(request, referral_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    context = {"referral": referral, **panel_context(referral)}
    return render(request, "referrals/_panel.html", context)


def documents_section(request, referral, *, form=None, status=200):
    attachments = list(current_attachments(referral))
    context = _section_context(
        request,
        referral,
        "documents",
        form=form or AttachmentForm(initial={"kind": request.session.pop("upload_kind", "")}),
        attachments=attachments,
        checklist=document_checklist(attachments),
        error_summary=error_summary(form) if form is not None else [],
    )
    return render(request, "referrals/section_documents.html", context, status=status)


def _review_section(request, referral):
    form = SubmitForm(request.POST if request.method == "POST" else None)
    problems = []
    if request.method == "POST" and form.is_valid():
        try:
            workflow.referral_submit(
                referral=referral,
                by=request.user,
                outside_criteria_reason=form.cleaned_data["outside_criteria_reason"],
            )
        except SubmissionIncomplete as exc:
            for field, message in exc.problems:
                if field in form.fields:
                    form.add_error(field, message)
                else:
                    problems.append(message)
        except TransitionNotAllowed as exc:
            problems.append(str(exc))
        else:
            messages.success(
                request, f"{referral.reference} has been sent to the practice. Thank you."
            )
            return redirect("referral_detail", referral.uuid)
    attachments = list(current_attachments(referral))
    context = _section_context(
        request,
        referral,
        "review",
        form=form,
        problems=problems,
        missing=referral_missing_for_submit(referral),
        attachments=attachments,
        checklist=document_checklist(attachments),
        imaging=list(referral.imaging.all()),
        medicines=list(referral.medicines.all()),
        has_duplicate=possible_duplicates(referral).exists(),
        error_summary=error_summary(form),
    )
    return render(request, "referrals/section_review.html", context)


@role_required(REFERRER)
@require_POST
def referral_withdraw(request, referral_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            workflow.referral_withdraw(
                referral=referral, by=request.user, reason=form.cleaned_data["reason"]
            )
        except TransitionNotAllowed as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{referral.reference} has been withdrawn.")
    return redirect("referral_detail", referral.uuid)


@role_required(REFERRER)
@require_POST
def referral_answer(request, referral_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            workflow.referral_answer_info_request(
                referral=referral, by=request.user, answer=form.cleaned_data["answer"]
            )
        except TransitionNotAllowed as exc:
            # Show the page again with what was typed still in the box.
            form.add_error("answer", str(exc))
        else:
            messages.success(
                request,
                f"Your answer has been sent; {referral.reference} is back with the practice.",
            )
            return redirect("referral_detail", referral.uuid)
    return render_detail(request, referral, answer_form=form, status=400)
