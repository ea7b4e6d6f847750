"""Template tags for referrals: outcome and status badges, criterion marks, sizes."""

from django import template

from referrals.packets.parts import describe_removed

register = template.Library()

OUTCOME = {
    "eligible": ("success", "Meets the criteria"),
    "incomplete": ("warning", "Not enough information yet"),
    "ineligible": ("danger", "Outside the criteria"),
}
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
CRITERION = {
    "pass": ("success", "✓", "Met"),
    "fail": ("danger", "✗", "Not met"),
    "unknown": ("warning", "?", "Not known"),
}


@register.inclusion_tag("referrals/_outcome_badge.html")
def outcome_badge(outcome):
    colour, label = OUTCOME.get(outcome, ("secondary", "Not assessed"))
    return {"colour": colour, "label": label}


@register.simple_tag
def status_class(status):
    return STATUS_CLASS.get(status, "secondary")


@register.simple_tag
def criterion_style(status):
    colour, symbol, label = CRITERION[status]
    return {"colour": colour, "symbol": symbol, "label": label}


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
