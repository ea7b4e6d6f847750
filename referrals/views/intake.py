"""The referring doctor's side: their referrals, the sectioned form with autosave and its
criteria panel, the documents and review steps, withdrawing, answering a request."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
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
from referrals.models import Referral
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
        form = FORMS[section](request.POST, instance=referral)
        if referral_save_section(referral=referral, section=section, form=form):
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
    """htmx: save as the doctor types. Returns the save status and the refreshed panel."""
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    if section not in FORMS or not referral_can_edit(referral):
        return HttpResponse("This referral can no longer be changed.", status=409)
    form = FORMS[section](request.POST, instance=referral)
    valid = referral_save_section(referral=referral, section=section, form=form)
    if not valid:  # the form set what it could clean on the instance: read back what is saved
        referral.refresh_from_db()
    context = {
        "referral": referral,
        "valid": valid,
        "saved_at": timezone.localtime(),
        "row_inputs": form.saved_row_inputs() if valid and section == "imaging" else [],
        **panel_context(referral),
    }
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
        form=form or AttachmentForm(),
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
