"""The referral page, which every role shares (what each may see and do differs), and its audit
trail for the practice's admins."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, prefetch_related_objects
from django.shortcuts import render
from django.utils import timezone

from portal.audit import audit_record
from portal.models import User
from portal.roles import ADMIN, has_role, role_required
from referrals import audit_trail
from referrals.access import referral_for_user
from referrals.actions import actions_for
from referrals.attachments import document_checklist, referral_can_add_documents
from referrals.forms.answers import answer_items
from referrals.forms.intake import AnswerForm, AttachmentForm, MessageForm, WithdrawForm
from referrals.hl7.facts import facts_may_enter
from referrals.hl7.letters import LETTER_EVENTS
from referrals.intake import referral_assessment
from referrals.models import Attachment, Referral
from referrals.selectors import only_current, referral_messages, referral_timeline
from referrals.workflow import transition_allowed

AUDIT_EVENTS_PER_PAGE = 100


def panel_context(referral: Referral) -> dict:
    """What the criteria panel shows: the live assessment, or the facts to correct first."""
    today = timezone.localdate()
    assessment, problems = referral_assessment(referral, today=today)
    return {
        "assessment": assessment,
        "assessment_problems": problems,
        "days_left": assessment.days_left(today) if assessment else None,
    }


@login_required
def referral_detail(request, referral_uuid):
    """The referral page: its status, what was sent, documents and timeline."""
    referral = referral_for_user(request.user, referral_uuid, action="view")
    audit_record(request=request, action="referral_viewed", referral=referral)
    return render_detail(request, referral)


def render_detail(
    request, referral, *, status=200, bound_action=None, bound_items=None, **overrides
):
    """The referral page for this user, with any form that was refused shown as it was."""
    is_owner = referral.referrer_id == request.user.pk
    today = timezone.localdate()
    # Loaded once, into the referral's prefetch cache: the request-information form reads the
    # same list (referral.attachments.all()) instead of a query of its own.
    prefetch_related_objects(
        [referral],
        Prefetch("attachments", queryset=Attachment.objects.select_related("replaced_by")),
    )
    attachments = list(referral.attachments.all())
    requests = list(referral.info_requests.select_related("requested_by"))
    open_request = next((r for r in requests if r.open), None)
    answered = [r for r in requests if not r.open]
    # Marked new: what came with the latest answer, until the practice acts on it.
    new_since = answered[-1].requested_at if referral.answered_at and answered else None
    context = {
        "referral": referral,
        "is_owner": is_owner,
        "age": referral.patient_age(today),
        "events": referral_timeline(referral),
        "attachments": attachments,
        "checklist": document_checklist(only_current(attachments)),
        "imaging": list(referral.imaging.all()),
        "medicines": list(referral.medicines.all()),
        "info_request": open_request,
        "answer_items": (
            answer_items(referral, open_request, attachments, bound=bound_items)
            if open_request and is_owner
            else []
        ),
        "requests": [
            {
                "request": r,
                "rows": answer_items(referral, r, attachments),
                "new": new_since is not None and r is answered[-1],
            }
            for r in requests
        ],
        "new_since": new_since,
        "can_withdraw": is_owner
        and transition_allowed(referral, Referral.Status.WITHDRAWN, request.user),
        "can_add_documents": is_owner and referral_can_add_documents(referral),
        "withdraw_form": WithdrawForm(),
        "answer_form": AnswerForm(),
        "upload_form": AttachmentForm(initial={"kind": request.session.pop("upload_kind", "")}),
        "today": today,
        "thread": referral_messages(referral),
        "message_form": MessageForm(),
        "can_message": not referral.is_draft,
        "decline_advice": referral.decline_advice,
    }
    if is_owner:
        # A printable copy of each version sent: its packet's summary pages.
        context["sent_versions"] = list(referral.packets.filter(status="ready").order_by("version"))
    else:
        context["packets"] = list(referral.packets.order_by("-version"))
        context["is_admin"] = has_role(request.user, ADMIN)
        context["actions"] = actions_for(referral, request.user, bound=bound_action)
        # The assigned IR reads the packet beside the eligibility summary and decision form.
        context["show_packet_inline"] = referral.assigned_radiologist_id == request.user.pk
        if referral.by_secure_message:
            context["letters"] = list(referral.letters.order_by("created_at", "id"))
            for letter in context["letters"]:
                letter.title = LETTER_EVENTS.get(letter.event, letter.event)
            context["can_enter_facts"] = context["is_admin"] and facts_may_enter(referral)
    if referral.staff_entered:
        context["staff_entered"] = [
            (Referral._meta.get_field(name).verbose_name, by)
            for name, by in referral.staff_entered.items()
        ]
    if referral.eligibility:
        context["stored"] = referral.eligibility
    else:
        context.update(panel_context(referral))
    context.update(overrides)
    return render(request, "referrals/referral_detail.html", context, status=status)


@role_required(ADMIN)
def referral_audit(request, referral_uuid):
    """The practice admin's view of one referral's audit trail, newest first, in sentences,
    one sitting's edits of a section folded into one row; filtered by kind and person."""
    referral = referral_for_user(request.user, referral_uuid, action="view")
    kind, person = request.GET.get("kind", ""), request.GET.get("person", "")
    people = list(User.objects.filter(audit_events__referral=referral).distinct().order_by("email"))
    kinds = audit_trail.kind_choices()
    problems = []
    if kind and kind not in dict(kinds):
        problems.append("That kind of event is not one of the list; showing every kind.")
        kind = ""
    if person and person not in {str(p.pk) for p in people}:
        problems.append("That person has done nothing recorded here; showing everyone.")
        person = ""
    events = audit_trail.filter_events(
        referral.audit_events.select_related("actor").order_by("-at", "-id"),
        kind=kind,
        person=person,
    )
    # Paged by events recorded (a referral viewed thousands of times stays one quick page);
    # a sitting's edits that straddle two pages show as a row on each.
    page = Paginator(events, AUDIT_EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = audit_trail.audit_rows(page.object_list)
    return render(
        request,
        "portal/audit_list.html",
        {
            "referral": referral,
            "rows": rows,
            "page": page,
            "kinds": kinds,
            "people": people,
            "kind": kind,
            "person": person,
            "problems": problems,
            "query": urlencode({k: v for k, v in (("kind", kind), ("person", person)) if v}),
        },
    )
