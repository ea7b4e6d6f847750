"""The words people read for the eligibility codes: one vocabulary for the criteria panel, the
referral page, the queue and the packet. A code ("eligible", "fail", "contraindication") never
reaches a person; these do.

Each criterion reads as a statement with its answer ("Coagulopathy: none recorded") and a mark
in words, colour and icon together, so no green tick stands beside "Uncorrected coagulopathy".
"""

from collections.abc import Mapping

from eligibility.criteria import CRITERIA, NOT_KNOWN

OUTCOME_LABELS = {
    "eligible": "Meets the criteria",
    "incomplete": "Not enough information yet",
    "ineligible": "Outside the criteria",
}
NOT_ASSESSED = "Not assessed"
# Bootstrap colour of each outcome's badge.
OUTCOME_COLOURS = {"eligible": "success", "incomplete": "warning", "ineligible": "danger"}

KIND_LABELS = {
    "indication": "Indication",
    "contraindication": "Contraindication",
    "workup": "Work-up",
}

# The mark's word by kind and status: an indication is met or not; a contraindication is
# absent (favourable) or present; a work-up item is done or still to do.
STATUS_WORDS = {
    "indication": {"pass": "Met", "fail": "Not met", "unknown": "Not known"},
    "contraindication": {"pass": "Not present", "fail": "Present", "unknown": "Not known"},
    "workup": {"pass": "Done", "fail": "To do", "unknown": "Not known"},
}
# (Bootstrap colour, icon, CSS class for the packet) by status.
MARKS = {
    "pass": ("success", "✓", "pass"),
    "fail": ("danger", "✗", "fail"),
    "unknown": ("warning", "?", "unknown"),
}

TOPICS = {c.id: c.topic for c in CRITERIA}
TEXTS = {c.id: c.text for c in CRITERIA}


def outcome_label(outcome: str | None) -> str:
    return OUTCOME_LABELS.get(outcome or "", NOT_ASSESSED)


def _get(criterion, key: str, default=""):
    if isinstance(criterion, Mapping):
        return criterion.get(key) or default
    return getattr(criterion, key, None) or default


def criterion_statement(criterion) -> dict:
    """How one criterion result reads, from a CriterionResult or its stored dict (results
    stored before topics and answers existed get the topic by id and the mark's word)."""
    cid, kind, status = _get(criterion, "id"), _get(criterion, "kind"), _get(criterion, "status")
    colour, icon, css = MARKS.get(status, MARKS["unknown"])
    word = STATUS_WORDS.get(kind, STATUS_WORDS["indication"]).get(status, "Not known")
    topic = _get(criterion, "topic") or TOPICS.get(cid) or _get(criterion, "text")
    answer = _get(criterion, "answer") or (NOT_KNOWN if status == "unknown" else word.lower())
    return {
        "id": cid,
        "kind": kind,
        "kind_label": KIND_LABELS.get(kind, ""),
        "status": status,
        "topic": topic,
        "answer": answer,
        "statement": f"{topic}: {answer}",
        "text": _get(criterion, "text") or TEXTS.get(cid, ""),
        "reason": _get(criterion, "reason"),
        "word": word,
        "colour": colour,
        "icon": icon,
        "css": css,
    }


def statements(criteria) -> list[dict]:
    return [criterion_statement(c) for c in criteria or ()]
