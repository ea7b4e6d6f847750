"""The practice's side: the triage queue (and its CSV), the IR's reviews, the actions on a
referral, and the message thread."""

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.forms import ModelChoiceField
from django.http import HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.roles import ADMIN, RADIOLOGIST, has_role, role_required
from referrals import services, triage
from referrals.access import referral_for_user
from referrals.documents import DocumentRejected
from referrals.forms import (
    AcceptForm,
    ApproveForm,
    BookForm,
    DeclineForm,
    InfoRequestForm,
    MessageForm,
    NoteForm,
    QueueFilterForm,
)
from referrals.models import Referral
from referrals.selectors import reviews_for, triage_queue

S = Referral.Status
QUEUE_PAGE_SIZE = 50


def _queue(request):
    form = QueueFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    queryset = triage_queue(
        status=filters.get("status", ""),
        outcome=filters.get("outcome", ""),
        site=filters.get("site"),
        radiologist=filters.get("radiologist"),
        q=filters.get("q", ""),
    )
    return form, queryset


def _annotate_urgency(referrals, today):
    """Per-row values computed once here, so the table renders without a template per row."""
    from referrals.templatetags.referral_tags import OUTCOME, STATUS_CLASS

    for referral in referrals:
        closes = referral.window_closes_on
        referral.days_left = (closes - today).days if closes else None
        referral.age = referral.patient_age(today)
        referral.outcome_colour, referral.outcome_label = OUTCOME.get(
            referral.eligibility_outcome, ("secondary", "Not assessed")
        )
        referral.status_colour = STATUS_CLASS.get(referral.status, "secondary")


# The queue is the page the practice opens most, and Django's template language costs tens of
# microseconds a variable and more a filter or {% url %}: its 50 rows were most of the page's
# time (bench/README.md). So each row is worked out here once, as a dict of ready strings (a
# dict because the template looks a key up in a dict first), and the template only prints them,
# escaped as always.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day_month(value) -> str:
    return f"{value.day} {MONTHS[value.month - 1]}"


def _window(closes, today) -> dict | None:
    """The window column: closes on, days left, and the highlight at 3 days or fewer."""
    if closes is None:
        return None
    days = (closes - today).days
    if days < 0:
        return {"css": "badge text-bg-dark", "days": days,
                "text": f"{_day_month(closes)} (closed {-days} d ago)"}  # fmt: skip
    return {
        "css": "badge text-bg-danger" if days <= 3 else "",
        "days": days,
        "text": f"{_day_month(closes)} ({'today' if days == 0 else f'{days} d'})",
    }


# One reverse() for the page: each row's link is this URL with the row's UUID in the slot.
_UUID_SLOT = "00000000-0000-0000-0000-000000000000"


def queue_rows(referrals, today) -> list[dict]:
    """Each referral's queue row as the strings the template prints (it escapes them)."""
    from referrals.templatetags.referral_tags import OUTCOME, STATUS_CLASS

    detail = reverse("referral_detail", args=[_UUID_SLOT]).replace(_UUID_SLOT, "{}")
    statuses = dict(Referral.Status.choices)
    rows = []
    for r in referrals:
        age = r.patient_age(today)
        received = timezone.localtime(r.submitted_at) if r.submitted_at else None
        ir = r.assigned_radiologist
        outcome_colour, outcome_label = OUTCOME.get(
            r.eligibility_outcome, ("secondary", "Not assessed")
        )
        rows.append(
            {
                "reference": r.reference,
                "url": detail.format(r.uuid),
                "duplicate": r.possible_duplicate,
                "patient": r.patient_name if age is None else f"{r.patient_name}, {age}",
                "levels": ", ".join(r.levels or ()),
                "outcome_colour": outcome_colour,
                "outcome_label": outcome_label,
                "window": _window(r.window_closes_on, today),
                "received": f"{_day_month(received)}, {received:%H:%M}" if received else "",
                "status_colour": STATUS_CLASS.get(r.status, "secondary"),
                "status_label": statuses.get(r.status, r.status),
                "ir": (ir.get_full_name() or "—") if ir else "—",
                "packet": (r.packet_status or "—").capitalize(),
            }
        )
    return rows


def _filter_controls(form) -> dict:
    """The filter bar as plain data: the search text, and each select's options with the chosen
    one marked. Hand-written markup renders these; crispy's templates, a template per field and
    per option, cost more than the 50 rows below them."""
    data = form.data if form.is_bound else {}
    selects = []
    for name in ("status", "outcome", "site", "radiologist"):
        field = form.fields[name]
        if isinstance(field, ModelChoiceField):
            # One plain query (a ModelChoiceField's own choices take a server-side cursor).
            choices = [("", field.empty_label)] + [
                (str(obj.pk), field.label_from_instance(obj)) for obj in field.queryset
            ]
        else:
            choices = field.choices
        chosen = str(data.get(name, ""))
        selects.append(
            {
                "name": name,
                "label": field.label,
                "options": [(value, label, value == chosen) for value, label in choices],
                "error": " ".join(form.errors.get(name, [])),
            }
        )
    return {
        "q": data.get("q", ""),
        "q_error": " ".join(form.errors.get("q", [])),
        "selects": selects,
    }


@role_required(ADMIN)
def triage_queue_view(request):
    """Incoming referrals for the practice's admins, most urgent first."""
    form, queryset = _queue(request)
    page = Paginator(queryset, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filters": _filter_controls(form),
        "filtered": form.is_bound,
        "page": page,
        "rows": queue_rows(page.object_list, timezone.localdate()),
        "query": query.urlencode(),
    }
    return render(request, "referrals/triage_queue.html", context)


def _csv_cell(value) -> str:
    """Text a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


@role_required(ADMIN)
def triage_queue_csv(request):
    """The filtered queue (every page) as CSV, streamed."""
    from portal.audit import audit_record

    _form, queryset = _queue(request)
    today = timezone.localdate()
    header = ["Reference", "Patient", "Age", "Levels", "Eligibility", "Window closes",
              "Days left", "Received", "Status", "IR", "Packet", "Possible duplicate"]  # fmt: skip

    def rows():
        yield header
        for referral in queryset.iterator(chunk_size=500):
            closes = referral.window_closes_on
            ir = referral.assigned_radiologist
            yield [
                referral.reference,
                referral.patient_name,
                referral.patient_age(today),
                " ".join(referral.levels or []),
                referral.eligibility_outcome,
                closes.isoformat() if closes else "",
                (closes - today).days if closes else "",
                timezone.localtime(referral.submitted_at).strftime("%Y-%m-%d %H:%M")
                if referral.submitted_at
                else "",
                referral.get_status_display(),
                (ir.get_full_name() or ir.email) if ir else "",
                referral.packet_status or "",
                "yes" if referral.possible_duplicate else "",
            ]

    writer = csv.writer(_Echo())
    audit_record(request=request, action="referral_viewed", detail="triage queue CSV export")
    response = StreamingHttpResponse(
        (writer.writerow([_csv_cell(v) for v in row]) for row in rows()),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="triage-queue-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(RADIOLOGIST)
def review_list(request):
    """Referrals assigned to the signed-in interventional radiologist, awaiting decision first."""
    page = Paginator(reviews_for(request.user), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    _annotate_urgency(page.object_list, timezone.localdate())
    return render(
        request, "referrals/review_list.html", {"page": page, "referrals": page.object_list}
    )


def staff_actions(request, referral, *, bound=None) -> dict:
    """The forms for the transitions this user may make now (SPEC 4), keyed by action."""
    user = request.user
    bound = bound or {}
    allowed = {
        to: services.transition_allowed(referral, to, user)
        for to in (S.ACCEPTED, S.DECLINED, S.INFO_REQUESTED, S.APPROVED, S.BOOKED, S.COMPLETED)
    }
    attachments = [a for a in referral.attachments.all() if a.replaced_by_id is None]
    actions = {}
    if allowed[S.INFO_REQUESTED]:
        actions["request_info"] = bound.get("request_info") or InfoRequestForm(
            referral=referral, attachments=attachments, prefix="info"
        )
    if allowed[S.ACCEPTED]:
        actions["accept"] = bound.get("accept") or AcceptForm(prefix="accept")
    if allowed[S.APPROVED] and referral.status == S.ACCEPTED:
        actions["approve"] = bound.get("approve") or ApproveForm(prefix="approve")
    if allowed[S.DECLINED]:
        actions["decline"] = bound.get("decline") or DeclineForm(prefix="decline")
    if allowed[S.BOOKED]:
        actions["book"] = bound.get("book") or BookForm(referral=referral, prefix="book")
    if referral.status == S.BOOKED and allowed[S.COMPLETED]:
        actions["complete"] = bound.get("complete") or NoteForm(prefix="complete")
        actions["rebook"] = bound.get("rebook") or NoteForm(prefix="rebook")
    return actions


ACTION_FORMS = {
    "accept": lambda data, referral: AcceptForm(data, prefix="accept"),
    "decline": lambda data, referral: DeclineForm(data, prefix="decline"),
    "request_info": lambda data, referral: InfoRequestForm(
        data,
        referral=referral,
        attachments=[a for a in referral.attachments.all() if a.replaced_by_id is None],
        prefix="info",
    ),
    "approve": lambda data, referral: ApproveForm(data, prefix="approve"),
    "book": lambda data, referral: BookForm(data, referral=referral, prefix="book"),
    "complete": lambda data, referral: NoteForm(data, prefix="complete"),
    "rebook": lambda data, referral: NoteForm(data, prefix="rebook"),
}


def _perform(action, form, referral, user, expected):
    data = form.cleaned_data
    common = {"referral": referral, "by": user, "expected_from": expected}
    if action == "accept":
        triage.referral_accept(radiologist=data["radiologist"], note=data["note"], **common)
    elif action == "decline":
        triage.referral_decline(reason=data["reason"], note=data["note"], **common)
    elif action == "request_info":
        triage.referral_ask(items=form.chosen_items(), note=data["note"], **common)
    elif action == "approve":
        triage.referral_approve(note=data["note"], **common)
    elif action == "book":
        start = timezone.make_aware(timezone.datetime.combine(data["date"], data["time"]))
        triage.referral_book(start=start, site=data["site"], **common)
    elif action == "complete":
        triage.referral_complete(note=data["note"], **common)
    elif action == "rebook":
        triage.referral_rebook(note=data["note"], **common)


MESSAGES_DONE = {
    "accept": "accepted and assigned",
    "decline": "declined; the referrer has been told",
    "request_info": "sent back to the referrer with your request",
    "approve": "approved for the procedure",
    "book": "booked; the referrer has been told",
    "complete": "marked completed",
    "rebook": "returned to approved for a new booking",
}


def referral_action(request, referral_uuid, action):
    """POST one of the practice's actions; a disallowed or stale one changes nothing."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    referral = referral_for_user(request.user, referral_uuid, action="staff")
    if action not in ACTION_FORMS:
        return redirect("referral_detail", referral.uuid)
    form = ACTION_FORMS[action](request.POST, referral)
    expected = request.POST.get("expected_status") or None
    if form.is_valid():
        try:
            _perform(action, form, referral, request.user, expected)
        except services.TransitionNotAllowed as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{referral.reference} {MESSAGES_DONE[action]}.")
            return redirect(_after(request, referral))
        return redirect("referral_detail", referral.uuid)
    from referrals.views.intake import render_detail

    return render_detail(request, referral, status=400, bound_action={action: form})


def _after(request, referral):
    if has_role(request.user, RADIOLOGIST) and not has_role(request.user, ADMIN):
        return reverse("review_list")
    return reverse("referral_detail", args=[referral.uuid])


@require_POST
def message_create(request, referral_uuid):
    """A message in the thread, from the referrer or the practice, with an optional document."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    referral = referral_for_user(request.user, referral_uuid, action="view")
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        files = []
        if form.cleaned_data.get("file"):
            files.append((form.cleaned_data["kind"], form.cleaned_data["file"]))
        try:
            triage.message_post(
                referral=referral, by=request.user, body=form.cleaned_data["body"], files=files
            )
        except (services.TransitionNotAllowed, DocumentRejected) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Message sent.")
            return redirect(f"{redirect('referral_detail', referral.uuid).url}#messages")
    from referrals.views.intake import render_detail

    return render_detail(request, referral, status=400, message_form=form)
