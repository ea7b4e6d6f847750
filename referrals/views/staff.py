"""The practice's side: the triage queue (and its CSV), the IR's reviews, the actions on a
referral (from the registry in referrals/actions.py), and the message thread."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from eligibility.labels import statements
from portal.audit import audit_record
from portal.roles import ADMIN, RADIOLOGIST, has_role, role_required
from referrals import workflow
from referrals.access import referral_for_user
from referrals.actions import ACTIONS
from referrals.errors import TransitionNotAllowed
from referrals.file_checks import DocumentRejected
from referrals.forms.intake import MessageForm
from referrals.forms.staff import QueueFilterForm
from referrals.models import Referral
from referrals.selectors import QUEUE_ORDER_RULE, reviews_for, triage_queue
from referrals.templatetags.referral_tags import OUTCOME, STATUS_CLASS
from referrals.views.referral import render_detail

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


def _concerns(stored) -> list[dict]:
    """The criteria not met (work-up aside), as statements: only those are worded (a row's
    dozen others were worded and thrown away, a fifth of the queue's time)."""
    failed = [
        c
        for c in (stored or {}).get("criteria") or ()
        if c.get("status") == "fail" and c.get("kind") != "workup"
    ]
    return statements(failed)


# One reverse() for the page: each row's link is this URL with the row's UUID in the slot.
_UUID_SLOT = "00000000-0000-0000-0000-000000000000"


def queue_rows(referrals, today) -> list[dict]:
    """Each referral's row as the strings the queue, the reviews and the CSV print (templates
    escape them), with the raw values beside them."""
    detail = reverse("referral_detail", args=[_UUID_SLOT]).replace(_UUID_SLOT, "{}")
    statuses = dict(Referral.Status.choices)
    rows = []
    for r in referrals:
        age = r.patient_age(today)
        received = timezone.localtime(r.submitted_at) if r.submitted_at else None
        closes = r.window_closes_on
        ir = r.assigned_radiologist
        answered = timezone.localtime(r.answered_at) if r.answered_at else None
        outcome_colour, outcome_label = OUTCOME.get(
            r.eligibility_outcome, ("secondary", "Not assessed")
        )
        rows.append(
            {
                "reference": r.reference,
                "url": detail.format(r.uuid),
                "duplicate": r.possible_duplicate,
                "patient": r.patient_name if age is None else f"{r.patient_name}, {age}",
                "patient_name": r.patient_name,
                "age": age,
                "levels": ", ".join(r.levels or ()),
                "outcome": r.eligibility_outcome,
                "outcome_colour": outcome_colour,
                "outcome_label": outcome_label,
                # Each indication or contraindication not met, as its statement.
                "concerns": _concerns(r.eligibility),
                "window": _window(closes, today),
                "closes": closes,
                "days_left": (closes - today).days if closes else None,
                "received": f"{_day_month(received)}, {received:%H:%M}" if received else "",
                "received_at": received,
                "status": r.status,
                "status_colour": STATUS_CLASS.get(r.status, "secondary"),
                "status_label": statuses.get(r.status, r.status),
                "answered": f"Answered: needs review ({_day_month(answered)})" if answered else "",
                "ir": (ir.get_full_name() or "—") if ir else "—",
                "ir_contact": (ir.get_full_name() or ir.email) if ir else "",
                "packet": (r.packet_status or "—").capitalize(),
                "packet_status": r.packet_status or "",
            }
        )
    return rows


def _concern_html(c: dict):
    return format_html(
        '<li><span class="criterion-mark mark-{}" aria-hidden="true">{}</span> {} '
        '<span class="visually-hidden">({})</span></li>',
        c["css"], c["icon"], c["statement"], c["word"],
    )  # fmt: skip


def queue_row_html(r: dict):
    """A queue row's markup from its strings (queue_rows), every value escaped by format_html:
    the 50 rows through the template language were a third of the page's time."""
    duplicate = (
        format_html(
            ' <span class="badge text-bg-warning" title="{}">{}</span>',
            "Another open referral for the same patient",
            "Possible duplicate",
        )  # fmt: skip
        if r["duplicate"]
        else ""
    )
    concerns = (
        format_html(
            '<ul class="list-unstyled small mb-0 mt-1 concerns">{}</ul>',
            format_html_join("", "{}", ((_concern_html(c),) for c in r["concerns"])),
        )
        if r["concerns"]
        else ""
    )
    window = r["window"]
    window_html = (
        format_html(
            '<span class="{}" data-days-left="{}">{}</span>',
            window["css"],
            window["days"],
            window["text"],
        )  # fmt: skip
        if window
        else format_html('<span class="text-body-secondary">{}</span>', "No onset")
    )
    answered = (
        format_html(
            '<br><span class="badge text-bg-info" data-answered="yes">{}</span>', r["answered"]
        )  # fmt: skip
        if r["answered"]
        else ""
    )
    return format_html(
        '<tr data-reference="{}">'
        '<td data-label="Reference"><a href="{}">{}</a>{}</td>'
        '<td data-label="Patient">{}</td>'
        '<td data-label="Levels">{}</td>'
        '<td data-label="Eligibility"><span class="badge text-bg-{}">{}</span>{}</td>'
        '<td data-label="Window closes">{}</td>'
        '<td data-label="Received">{}</td>'
        '<td data-label="Status"><span class="badge text-bg-{}">{}</span>{}</td>'
        '<td data-label="IR">{}</td>'
        '<td data-label="Packet">{}</td>'
        "</tr>",
        r["reference"], r["url"], r["reference"], duplicate,
        r["patient"], r["levels"], r["outcome_colour"], r["outcome_label"], concerns,
        window_html, r["received"], r["status_colour"], r["status_label"], answered, r["ir"],
        r["packet"],
    )  # fmt: skip


def _filter_controls(form) -> dict:
    """The filter bar as plain data: the search text, and each select's options with the chosen
    one marked. Hand-written markup renders these; crispy's templates, a template per field and
    per option, cost more than the 50 rows below them."""
    data = form.data if form.is_bound else {}
    selects = []
    for name in ("status", "outcome", "site", "radiologist"):
        field = form.fields[name]
        choices = [(str(value), label) for value, label in field.choices]
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
        "shown": _shown(page, queryset),
        "order_rule": QUEUE_ORDER_RULE,
        "rows": [
            {**row, "html": queue_row_html(row)}
            for row in queue_rows(page.object_list, timezone.localdate())
        ],
        "query": query.urlencode(),
    }
    return render(request, "referrals/triage_queue.html", context)


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")  # a narrow no-break space, as "1 000"


def _shown(page, queue) -> str:
    """ "Showing 51–100 of 1 234", or "of more than 1 000" past the count's cap."""
    if not page.object_list:
        return ""
    total = f"more than {_thousands(queue.cap)}" if queue.more else _thousands(queue.count())
    shown = f"Showing {page.start_index()}–{page.end_index()} of {total}"
    if queue.more and queue.searched:
        shown += ": add to the search (a given name as well as the family name) to narrow it"
    return shown


def _csv_cell(value) -> str:
    """Text a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _batches(iterable, size: int):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Echo:
    def write(self, value):
        return value


@role_required(ADMIN)
def triage_queue_csv(request):
    """The filtered queue (every page) as CSV, streamed."""
    _form, queryset = _queue(request)
    today = timezone.localdate()
    header = ["Reference", "Patient", "Age", "Levels", "Eligibility", "Window closes",
              "Days left", "Received", "Status", "IR", "Packet", "Possible duplicate"]  # fmt: skip

    def rows():
        yield header
        for batch in _batches(queryset.iterator(chunk_size=500), 500):
            for row in queue_rows(batch, today):
                yield [
                    row["reference"],
                    row["patient_name"],
                    row["age"],
                    row["levels"].replace(", ", " "),
                    row["outcome"],
                    row["closes"].isoformat() if row["closes"] else "",
                    "" if row["days_left"] is None else row["days_left"],
                    f"{row['received_at']:%Y-%m-%d %H:%M}" if row["received_at"] else "",
                    row["status_label"],
                    row["ir_contact"],
                    row["packet_status"],
                    "yes" if row["duplicate"] else "",
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
    rows = queue_rows(page.object_list, timezone.localdate())
    for row, referral in zip(rows, page.object_list, strict=True):
        row["booked_start"] = referral.booked_start
    return render(request, "referrals/review_list.html", {"page": page, "rows": rows})


@login_required
@require_POST
def referral_action(request, referral_uuid, action):
    """POST one of the practice's actions; a disallowed or stale one changes nothing."""
    referral = referral_for_user(request.user, referral_uuid, action="staff")
    staff_action = ACTIONS.get(action)
    if staff_action is None:
        return redirect("referral_detail", referral.uuid)
    form = staff_action.form(referral, request.POST)
    expected = request.POST.get("expected_status") or None
    if not form.is_valid():
        return render_detail(request, referral, status=400, bound_action={action: form})
    try:
        staff_action.run(form, referral, request.user, expected)
    except TransitionNotAllowed as exc:
        messages.error(request, str(exc))
        return redirect("referral_detail", referral.uuid)
    messages.success(request, f"{referral.reference} {staff_action.done}.")
    return redirect(_after(request, referral))


@login_required
@require_POST
def answer_reviewed(request, referral_uuid):
    """The practice has read the referrer's answer: "Answered: needs review" goes."""
    referral = referral_for_user(request.user, referral_uuid, action="staff")
    workflow.answer_reviewed(referral=referral, by=request.user)
    messages.success(request, f"{referral.reference}: the answer is marked reviewed.")
    return redirect("referral_detail", referral.uuid)


def _after(request, referral):
    if has_role(request.user, RADIOLOGIST) and not has_role(request.user, ADMIN):
        return reverse("review_list")
    return reverse("referral_detail", args=[referral.uuid])


@login_required
@require_POST
def message_create(request, referral_uuid):
    """A message in the thread, from the referrer or the practice, with an optional document."""
    referral = referral_for_user(request.user, referral_uuid, action="view")
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        files = []
        if form.cleaned_data.get("file"):
            files.append((form.cleaned_data["kind"], form.cleaned_data["file"]))
        try:
            workflow.message_post(
                referral=referral, by=request.user, body=form.cleaned_data["body"], files=files
            )
        except (TransitionNotAllowed, DocumentRejected) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Message sent.")
            return redirect(f"{redirect('referral_detail', referral.uuid).url}#messages")
    return render_detail(request, referral, status=400, message_form=form)
