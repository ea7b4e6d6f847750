"""The referring doctor's side: dashboard, the sectioned form with autosave, submit, withdraw,
answering a request for information."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.audit import audit_record
from portal.roles import ADMIN, REFERRER, has_role, role_required
from portal.services import referrer_signup
from referrals import services
from referrals.access import referral_for_user
from referrals.forms import (
    AnswerForm,
    AttachmentForm,
    ClinicalForm,
    ImagingSection,
    MessageForm,
    PatientForm,
    SignupForm,
    SubmitForm,
    WithdrawForm,
)
from referrals.models import Referral
from referrals.selectors import referral_timeline, referrals_for_dashboard

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


def _error_summary(form) -> list[tuple[str, str]]:
    if isinstance(form, ImagingSection):
        return form.errors_summary
    summary = []
    for name, errors in form.errors.items():
        field_id = form[name].id_for_label if name in form.fields else ""
        label = form.fields[name].label.rstrip(" *") if name in form.fields else ""
        for error in errors:
            summary.append((field_id, f"{label}: {error}" if label else error))
    return summary


def _panel_context(referral: Referral) -> dict:
    today = timezone.localdate()
    assessment = services.referral_assess(referral, today=today)
    return {
        "assessment": assessment,
        "days_left": assessment.days_left(today) if assessment else None,
    }


def _editable_or_redirect(request, referral):
    if services.referral_can_edit(referral):
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
        **_panel_context(referral),
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
            assessment = services.referral_assess(referral, today=today)
            referral.outcome_shown = assessment.outcome if assessment else ""
    return render(
        request,
        "referrals/referral_list.html",
        {"page": page, "referrals": page.object_list, "profile": request.user.referrer_profile},
    )


@role_required(REFERRER)
@require_POST
def referral_new(request):
    referral = services.referral_create(referrer=request.user)
    return redirect("referral_section", referral.uuid, "patient")


@role_required(REFERRER)
def referral_section(request, referral_uuid, section):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    if (response := _editable_or_redirect(request, referral)) is not None:
        return response
    if section == "documents":
        return _documents_section(request, referral)
    if section == "review":
        return _review_section(request, referral)
    if section not in FORMS:
        return redirect("referral_section", referral.uuid, "patient")
    if request.method == "POST":
        form = FORMS[section](request.POST, instance=referral)
        if services.referral_save_section(referral=referral, section=section, form=form):
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
        request, referral, section, form=form, error_summary=_error_summary(form)
    )
    return render(request, f"referrals/section_{section}.html", context)


@role_required(REFERRER)
@require_POST
def referral_autosave(request, referral_uuid, section):
    """htmx: save as the doctor types. Returns the save status and the refreshed panel."""
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    if section not in FORMS or not services.referral_can_edit(referral):
        return HttpResponse("This referral can no longer be changed.", status=409)
    form = FORMS[section](request.POST, instance=referral)
    valid = services.referral_save_section(referral=referral, section=section, form=form)
    referral.refresh_from_db()
    context = {
        "referral": referral,
        "valid": valid,
        "saved_at": timezone.localtime(),
        "row_inputs": form.saved_row_inputs() if valid and section == "imaging" else [],
        **_panel_context(referral),
    }
    return render(request, "referrals/_autosave.html", context)


@role_required(REFERRER)
def referral_panel(request, referral_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    context = {"referral": referral, **_panel_context(referral)}
    return render(request, "referrals/_panel.html", context)


def _documents_section(request, referral, *, form=None, status=200):
    attachments = list(services.referral_current_attachments(referral))
    context = _section_context(
        request,
        referral,
        "documents",
        form=form or AttachmentForm(),
        attachments=attachments,
        checklist=services.document_checklist(attachments),
        error_summary=_error_summary(form) if form is not None else [],
    )
    return render(request, "referrals/section_documents.html", context, status=status)


def _review_section(request, referral):
    form = SubmitForm(request.POST if request.method == "POST" else None)
    problems = []
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_submit(
                referral=referral,
                by=request.user,
                outside_criteria_reason=form.cleaned_data["outside_criteria_reason"],
            )
        except services.SubmissionIncomplete as exc:
            for field, message in exc.problems:
                if field in form.fields:
                    form.add_error(field, message)
                else:
                    problems.append(message)
        except services.TransitionNotAllowed as exc:
            problems.append(str(exc))
        else:
            messages.success(
                request, f"{referral.reference} has been sent to the practice. Thank you."
            )
            return redirect("referral_detail", referral.uuid)
    attachments = list(services.referral_current_attachments(referral))
    context = _section_context(
        request,
        referral,
        "review",
        form=form,
        problems=problems,
        missing=services.referral_missing_for_submit(referral),
        attachments=attachments,
        checklist=services.document_checklist(attachments),
        imaging=list(referral.imaging.all()),
        medicines=list(referral.medicines.all()),
        has_duplicate=services.possible_duplicates(referral).exists(),
        error_summary=_error_summary(form),
    )
    return render(request, "referrals/section_review.html", context)


def referral_detail(request, referral_uuid):
    """The referral page: its status, what was sent, documents and timeline."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    referral = referral_for_user(request.user, referral_uuid, action="view")
    audit_record(request=request, action="referral_viewed", referral=referral)
    return render_detail(request, referral)


def render_detail(request, referral, *, status=200, bound_action=None, **overrides):
    from referrals.selectors import referral_messages
    from referrals.triage import DECLINE_ADVICE
    from referrals.views.staff import staff_actions

    is_owner = referral.referrer_id == request.user.pk
    today = timezone.localdate()
    attachments = list(referral.attachments.select_related("replaced_by"))
    context = {
        "referral": referral,
        "is_owner": is_owner,
        "age": referral.patient_age(today),
        "events": referral_timeline(referral),
        "attachments": attachments,
        "checklist": services.document_checklist(
            [a for a in attachments if a.replaced_by_id is None]
        ),
        "imaging": list(referral.imaging.all()),
        "medicines": list(referral.medicines.all()),
        "info_request": services.referral_open_info_request(referral),
        "can_withdraw": is_owner
        and services.transition_allowed(referral, Referral.Status.WITHDRAWN, request.user),
        "can_add_documents": is_owner and services.referral_can_add_documents(referral),
        "withdraw_form": WithdrawForm(),
        "answer_form": AnswerForm(),
        "upload_form": AttachmentForm(),
        "today": today,
    }
    context["thread"] = referral_messages(referral)
    context["message_form"] = MessageForm()
    context["can_message"] = not referral.is_draft
    if referral.decline_reason:
        context["decline_advice"] = DECLINE_ADVICE.get(referral.decline_reason, "")
    if not is_owner:
        context["packets"] = list(referral.packets.order_by("-version"))
        context["is_admin"] = has_role(request.user, ADMIN)
        context["actions"] = staff_actions(request, referral, bound=bound_action)
        # The assigned IR reads the packet beside the eligibility summary and decision form.
        context["show_packet_inline"] = referral.assigned_radiologist_id == request.user.pk
    if referral.eligibility:
        context["stored"] = referral.eligibility
    else:
        context.update(_panel_context(referral))
    context.update(overrides)
    return render(request, "referrals/referral_detail.html", context, status=status)


@role_required(REFERRER)
@require_POST
def referral_withdraw(request, referral_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            services.referral_withdraw(
                referral=referral, by=request.user, reason=form.cleaned_data["reason"]
            )
        except services.TransitionNotAllowed as exc:
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
            services.referral_answer_info_request(
                referral=referral, by=request.user, answer=form.cleaned_data["answer"]
            )
        except services.TransitionNotAllowed as exc:
            # Show the page again with what was typed still in the box.
            form.add_error("answer", str(exc))
        else:
            messages.success(
                request,
                f"Your answer has been sent; {referral.reference} is back with the practice.",
            )
            return redirect("referral_detail", referral.uuid)
    return render_detail(request, referral, answer_form=form, status=400)


def signup(request):
    """A referring doctor asks for an account. Every valid request gets the same answer, and
    an email, whether or not the address already has an account (see referrer_signup)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        referrer_signup(
            email=data["email"],
            password=data["password1"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            provider_number=data["provider_number"],
            practice_name=data["practice_name"],
            address=data["address"],
            phone=data["phone"],
        )
        return redirect("signup_done")
    return render(
        request, "registration/signup.html", {"form": form, "error_summary": _error_summary(form)}
    )


def signup_done(request):
    return render(request, "registration/signup_done.html")
