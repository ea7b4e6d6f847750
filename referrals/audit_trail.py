"""A referral's audit trail as a person reads it: one row per event they would name.

The rows recorded stay as they are (append-only, portal.models.AuditEvent); this only presents
them. Autosaves of one section by one person in one sitting (each within AUDIT_FOLD_MINUTES of
the last) fold into one "Edited clinical details: pain score, date the pain began" row naming
the fields changed, never their values; transitions, views, downloads and messages read as
plain sentences. Filters by kind and by person.
"""

import re
from datetime import timedelta

from django.conf import settings

from referrals.models import Referral
from referrals.models.referral import transition_sentence

SECTION_NAMES = {
    "patient": "patient details",
    "clinical": "clinical details",
    "imaging": "imaging and medicines",
}
# The kinds a reader filters by: (label, the actions recorded under it).
KINDS = {
    "changes": ("Edits and documents", ("referral_changed",)),
    "status": ("Status changes", ("referral_transition",)),
    "views": ("Views", ("referral_viewed",)),
    "downloads": ("Downloads", ("document_downloaded", "packet_downloaded")),
    "messages": ("Messages", ("message_sent",)),
}
_SECTION_EDIT = re.compile(r"(?P<section>[a-z_]+) edited(?:: (?P<fields>.*))?")
_TRANSITION = re.compile(r"(?P<from>[a-z_]*) → (?P<to>[a-z_]+)")
_PACKET = re.compile(r"packet v(?P<version>\d+)")


def _status_label(code: str) -> str:
    return dict(Referral.Status.choices).get(code, "new") if code else "new"


def event_sentence(event) -> str:
    """One recorded event in words (never a code)."""
    action, detail, name = event.action, event.detail or "", event.object_repr or ""
    if action == "referral_viewed":
        return "Viewed the referral"
    if action == "document_downloaded":
        return f"Downloaded the document “{name}”"
    if action == "packet_downloaded":
        match = _PACKET.fullmatch(name)
        what = f"packet version {match['version']}" if match else "the packet"
        return f"{'Opened' if detail == 'viewed inline' else 'Downloaded'} {what}"
    if action == "message_sent":
        return "Sent a message"
    if action == "referral_transition":
        match = _TRANSITION.fullmatch(detail)
        if match:
            return (
                f"{transition_sentence(match['from'], match['to'])}: "
                f"{_status_label(match['from'])} → {_status_label(match['to'])}"
            )
        return "Changed the status"
    if action == "referral_changed":
        if detail == "document added":
            return f"Added the document “{name}”"
        if detail.startswith("document deleted"):
            return f"Deleted the document “{name}” from the draft"
        match = _SECTION_EDIT.fullmatch(detail)
        if match:
            return _edited(match["section"], _split(match["fields"]))
        return f"Changed the referral{f': {detail}' if detail else ''}"
    return event.get_action_display() + (f": {detail}" if detail else "")


def _split(fields: str | None) -> list[str]:
    return [f for f in (fields or "").split(", ") if f]


def _edited(section: str, fields: list[str]) -> str:
    what = SECTION_NAMES.get(section, f"the {section} section")
    return f"Edited {what}" + (f": {', '.join(fields)}" if fields else "")


def audit_rows(events, *, fold_minutes: int | None = None) -> list[dict]:
    """Rows for `events` (newest first), with one sitting's edits of a section folded."""
    if fold_minutes is None:
        fold_minutes = settings.AUDIT_FOLD_MINUTES
    window = timedelta(minutes=fold_minutes)
    rows: list[dict] = []
    for event in events:
        match = (
            _SECTION_EDIT.fullmatch(event.detail or "")
            if event.action == "referral_changed"
            else None
        )
        if match:
            last = rows[-1] if rows else None
            if (
                last is not None
                and last["section"] == match["section"]
                and last["actor_id"] == event.actor_id
                and last["since"] - event.at <= window
            ):
                # Newest first: this edit came before the row's; its fields go first.
                fields = _split(match["fields"])
                last["fields"] = list(dict.fromkeys(fields + last["fields"]))
                last["since"], last["count"] = event.at, last["count"] + 1
                last["sentence"] = _edited(last["section"], last["fields"])
                continue
        rows.append(
            {
                "event": event,
                "at": event.at,
                "since": event.at,
                "count": 1,
                "actor_id": event.actor_id,
                "section": match["section"] if match else None,
                "fields": _split(match["fields"]) if match else [],
                "sentence": event_sentence(event),
            }
        )
    return rows


def kind_choices() -> list[tuple[str, str]]:
    return [(key, label) for key, (label, _actions) in KINDS.items()]


def filter_events(events, *, kind: str = "", person: str = ""):
    """`events` of one kind (a KINDS key) and one person (a user id); unknown values ignored."""
    if kind in KINDS:
        events = events.filter(action__in=KINDS[kind][1])
    if person.isdigit():
        events = events.filter(actor_id=int(person))
    return events
