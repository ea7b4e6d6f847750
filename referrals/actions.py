"""The practice's actions on a referral, one registry: for each, who may take it now (the
transition it makes), its form, what it runs, and how the referral page shows it (title,
button, style, the message once done). The page and the POST view both read it from here."""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from referrals import workflow
from referrals.forms.staff import AcceptForm, BookForm, DeclineForm, InfoRequestForm, NoteForm
from referrals.models import Referral
from referrals.selectors import only_current

S = Referral.Status


@dataclass(frozen=True)
class StaffAction:
    name: str
    to: str  # the status it moves the referral to
    title: str  # what the page offers
    button: str
    style: str  # the button's Bootstrap classes
    done: str  # "VP-2026-00042 <done>." once it is taken
    make_form: Callable  # (data, referral) -> the bound or unbound form
    run: Callable  # (form, referral, user, expected_from) -> None
    only_from: str | None = None  # offered only from this status
    fields_template: str = ""  # a layout of its own for the fields, else one per row

    def allowed(self, referral: Referral, user) -> bool:
        if self.only_from is not None and referral.status != self.only_from:
            return False
        return workflow.transition_allowed(referral, self.to, user)

    def form(self, referral: Referral, data=None):
        return self.make_form(data, referral)


def _info_form(data, referral):
    return InfoRequestForm(
        data, referral=referral, attachments=only_current(referral.attachments.all()),
        prefix="info",
    )  # fmt: skip


def _book(form, referral, user, expected):
    data = form.cleaned_data
    start = timezone.make_aware(timezone.datetime.combine(data["date"], data["time"]))
    workflow.referral_book(
        referral=referral, by=user, start=start, site=data["site"], expected_from=expected
    )


ACTIONS: dict[str, StaffAction] = {
    action.name: action
    for action in (
        StaffAction(
            "request_info", S.INFO_REQUESTED, "Ask the referrer for more information",
            "Send request", "btn-primary", "sent back to the referrer with your request",
            make_form=_info_form,
            run=lambda form, referral, user, expected: workflow.referral_request_info(
                referral=referral, by=user, items=form.chosen_items(),
                note=form.cleaned_data["note"], expected_from=expected,
            ),
        ),
        StaffAction(
            "accept", S.ACCEPTED, "Accept and assign an IR", "Accept and assign", "btn-primary",
            "accepted and assigned", only_from=S.SUBMITTED,
            make_form=lambda data, referral: AcceptForm(data, prefix="accept"),
            run=lambda form, referral, user, expected: workflow.referral_accept(
                referral=referral, by=user, radiologist=form.cleaned_data["radiologist"],
                note=form.cleaned_data["note"], expected_from=expected,
            ),
        ),
        StaffAction(
            "reassign", S.ACCEPTED, "Reassign to another IR", "Reassign", "btn-outline-primary",
            "reassigned; both radiologists have been told", only_from=S.ACCEPTED,
            make_form=lambda data, referral: AcceptForm(data, prefix="reassign", referral=referral),
            run=lambda form, referral, user, expected: workflow.referral_reassign(
                referral=referral, by=user, radiologist=form.cleaned_data["radiologist"],
                note=form.cleaned_data["note"], expected_from=expected,
            ),
        ),
        StaffAction(
            "undo_accept", S.SUBMITTED, "Undo the acceptance (back to triage)", "Undo acceptance",
            "btn-outline-secondary", "back in triage; the radiologist has been told",
            only_from=S.ACCEPTED,
            make_form=lambda data, referral: NoteForm(data, prefix="undo_accept"),
            run=lambda form, referral, user, expected: workflow.referral_undo_accept(
                referral=referral, by=user, note=form.cleaned_data["note"],
                expected_from=expected,
            ),
        ),
        StaffAction(
            "approve", S.APPROVED, "Suitable: approve for the procedure", "Approve",
            "btn-primary", "approved for the procedure", only_from=S.ACCEPTED,
            make_form=lambda data, referral: NoteForm(data, prefix="approve"),
            run=lambda form, referral, user, expected: workflow.referral_approve(
                referral=referral, by=user, note=form.cleaned_data["note"],
                expected_from=expected,
            ),
        ),
        StaffAction(
            "decline", S.DECLINED, "Decline", "Decline referral", "btn-danger",
            "declined; the referrer has been told",
            make_form=lambda data, referral: DeclineForm(data, prefix="decline"),
            run=lambda form, referral, user, expected: workflow.referral_decline(
                referral=referral, by=user, reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"], expected_from=expected,
            ),
        ),
        StaffAction(
            "book", S.BOOKED, "Book the procedure", "Book", "btn-primary",
            "booked; the referrer has been told",
            make_form=lambda data, referral: BookForm(data, referral=referral, prefix="book"),
            run=_book, fields_template="referrals/_action_book_fields.html",
        ),
        StaffAction(
            "complete", S.COMPLETED, "Mark completed", "Mark completed", "btn-primary",
            "marked completed", only_from=S.BOOKED,
            make_form=lambda data, referral: NoteForm(data, prefix="complete"),
            run=lambda form, referral, user, expected: workflow.referral_complete(
                referral=referral, by=user, note=form.cleaned_data["note"],
                expected_from=expected,
            ),
        ),
        StaffAction(
            "rebook", S.APPROVED, "Cancel the booking to rebook", "Cancel booking",
            "btn-outline-secondary", "returned to approved for a new booking",
            only_from=S.BOOKED,
            make_form=lambda data, referral: NoteForm(data, prefix="rebook"),
            run=lambda form, referral, user, expected: workflow.referral_rebook(
                referral=referral, by=user, note=form.cleaned_data["note"],
                expected_from=expected,
            ),
        ),
    )
}  # fmt: skip


def actions_for(referral: Referral, user, *, bound: dict | None = None) -> list[tuple]:
    """(action, form) for each action this user may take on the referral now; a form that was
    posted and refused is shown as it was (`bound`, by action name)."""
    bound = bound or {}
    return [
        (action, bound.get(name) or action.form(referral))
        for name, action in ACTIONS.items()
        if action.allowed(referral, user)
    ]
