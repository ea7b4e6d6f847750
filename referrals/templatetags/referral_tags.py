"""Template tags for referrals: outcome and status badges, criterion marks, sizes."""

from datetime import date, datetime

from django import template
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html

from eligibility.labels import (
    NOT_ASSESSED,
    OUTCOME_COLOURS,
    OUTCOME_LABELS,
    criterion_statement,
    statements,
)
from referrals.models.referral import transition_sentence
from referrals.packets.parts import describe_removed

register = template.Library()

# The words come from eligibility.labels, the one vocabulary; these are their badges' colours.
OUTCOME = {code: (OUTCOME_COLOURS[code], label) for code, label in OUTCOME_LABELS.items()}
STATUS_CLASS = {
    "draft": "secondary",
    "submitted": "primary",
    "info_requested": "warning",
    "accepted": "info",
    "approved": "success",
    "booked": "success",
    "completed": "dark",
    "declined": "danger",
    "withdrawn": "secondary",
}


@register.inclusion_tag("referrals/_outcome_badge.html")
def outcome_badge(outcome):
    colour, label = OUTCOME.get(outcome, ("secondary", NOT_ASSESSED))
    return {"colour": colour, "label": label, "icon": OUTCOME_ICONS.get(outcome, "")}


@register.simple_tag
def status_class(status):
    return STATUS_CLASS.get(status, "secondary")


OUTCOME_ICONS = {"eligible": "✓", "incomplete": "?", "ineligible": "✗"}


@register.filter
def statement(criterion) -> dict:
    """A criterion result (or its stored dict) as it reads (eligibility.labels)."""
    return criterion_statement(criterion)


@register.filter
def as_statements(criteria) -> list[dict]:
    return statements(criteria)


@register.filter
def short_digest(digest) -> str:
    """A SHA-256 as its first 12 characters, the whole value on demand (title, and a
    <details> that shows it in full for copying)."""
    if not digest:
        return ""
    return format_html(
        '<details class="digest"><summary title="SHA-256 {}"><code>{}…</code>'
        '<span class="visually-hidden"> (show the full SHA-256)</span></summary>'
        '<code class="digest-full user-select-all">{}</code></details>',
        digest,
        digest[:12],
        digest,
    )


@register.filter
def filesize(size):
    size = int(size or 0)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


@register.filter
def absolute(value):
    return abs(value) if value is not None else value


@register.filter
def removed_content(counts):
    """An attachment's part_removed in words: "Active content removed: 2 scripts." or ""."""
    return describe_removed(counts)


CRITERIA_GROUPS = (
    ("indication", "Indications"),
    ("contraindication", "Contraindications"),
    ("workup", "Before the procedure"),
)


@register.simple_tag
def criteria_groups():
    return CRITERIA_GROUPS


@register.filter
def criteria_counts(items) -> str:
    """The summary bar's count of what is not favourable: "2 not met, 1 not known"."""
    counted = [s for s in items if s["kind"] != "workup"]
    fail = sum(1 for s in counted if s["status"] == "fail")
    unknown = sum(1 for s in counted if s["status"] == "unknown")
    parts = [f"{fail} not met" if fail else "", f"{unknown} not known" if unknown else ""]
    return ", ".join(p for p in parts if p) or "every criterion met"


@register.filter
def iso_date(value):
    """A stored ISO date ("2026-11-25") as a date, for |date; other values as they are."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


@register.filter
def dicom_datetime(study_date, study_time="") -> str:
    """A DICOM date (20261125) and time (093015.5) as people write them: "25 Nov 2026, 09:30".
    A value that is not a DICOM date is shown as it is."""
    text = str(study_date or "").strip()
    try:
        day = datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return text
    shown = date_format(day, "j M Y")
    clock = str(study_time or "").strip()
    if len(clock) >= 4 and clock[:4].isdigit() and int(clock[:2]) < 24 and int(clock[2:4]) < 60:
        shown += f", {clock[:2]}:{clock[2:4]}"
    return shown


@register.filter
def event_sentence(event) -> str:
    """A status event as the plain sentence its person would say: "Requested more information"."""
    return transition_sentence(event.from_status, event.to_status)


@register.filter
def get_item(mapping, key):
    """mapping[key] in a template, or "" (for the task list's states by section)."""
    return (mapping or {}).get(key, "")


class SummaryRowNode(template.Node):
    def __init__(self, key, section, field, change, nodelist):
        self.key, self.section, self.field, self.change = key, section, field, change
        self.nodelist = nodelist

    def render(self, context):
        key, section, field = (v.resolve(context) for v in (self.key, self.section, self.field))
        value = self.nodelist.render(context)
        link = ""
        if self.change.resolve(context, ignore_failures=True):
            referral = context["referral"]
            url = reverse("referral_section", args=[referral.uuid, section])
            link = format_html(
                '<dd class="summary-change"><a href="{}{}">Change<span class="visually-hidden">'
                " {}</span></a></dd>",
                url,
                f"#id_{field}" if field else "",
                key.lower(),
            )
        return format_html(
            '<div class="summary-row"><dt class="summary-key">{}</dt>'
            '<dd class="summary-value">{}</dd>{}</div>',
            key,
            value,  # already rendered (and escaped) by the template
            link,
        )


@register.tag
def summary_row(parser, token):
    """{% summary_row "Key" "section" "field" change %}value{% end_summary_row %}: one row of
    a summary list, with a Change link to the section (and field) when `change` is true."""
    bits = token.split_contents()
    if len(bits) != 5:
        raise template.TemplateSyntaxError("summary_row takes a key, section, field and change")
    key, section, field, change = (parser.compile_filter(b) for b in bits[1:])
    nodelist = parser.parse(("end_summary_row",))
    parser.delete_first_token()
    return SummaryRowNode(key, section, field, change, nodelist)
