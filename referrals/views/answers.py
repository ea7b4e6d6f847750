"""The referrer's answer to a request for information, one item at a time: a criterion's facts
(saved, the referral assessed again) or a document of the kind asked for. Sending the answer as
a whole is referrals.views.intake.referral_answer."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.roles import REFERRER, role_required
from referrals import workflow
from referrals.access import referral_for_user
from referrals.attachments import attachment_add
from referrals.errors import TransitionNotAllowed
from referrals.file_checks import DocumentRejected
from referrals.forms.answers import ItemUploadForm, criterion_form, upload_kind
from referrals.selectors import referral_open_info_request
from referrals.views.referral import render_detail


def _back(referral, index):
    return redirect(reverse("referral_detail", args=[referral.uuid]) + f"#item-{index}")


@role_required(REFERRER)
@require_POST
def referral_answer_item(request, referral_uuid, index):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    info_request = referral_open_info_request(referral)
    if info_request is None or index >= len(info_request.items):
        messages.error(request, "There is no open request for information to answer.")
        return redirect("referral_detail", referral.uuid)
    item = info_request.items[index]
    if item["kind"] == "document":
        return _answer_with_document(request, referral, item, index)
    form = criterion_form(referral, item, index, data=request.POST)
    if form is None or not form.is_valid():
        return render_detail(request, referral, status=400, bound_items={index: form})
    try:
        workflow.info_item_answer(referral=referral, by=request.user, index=index, form=form)
    except TransitionNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Saved your answer to “{item['label']}”; the criteria were checked again."
        )
    return _back(referral, index)


def _answer_with_document(request, referral, item, index):
    form = ItemUploadForm(request.POST, request.FILES, kind=upload_kind(item), index=index)
    uploaded = request.FILES.get(f"item{index}-file")
    name = uploaded.name if uploaded else ""
    if getattr(request, "upload_too_large", None):
        messages.error(request, f"“{name}” is over the size limit a file; nothing was saved.")
    elif not form.is_valid():
        messages.error(request, f"Choose the file to add for “{item['label']}”.")
    else:
        try:
            attachment = attachment_add(
                referral=referral, kind=upload_kind(item),
                uploaded_file=form.cleaned_data["file"], by=request.user,
            )  # fmt: skip
        except DocumentRejected as exc:
            messages.error(request, f"“{name}” was not added: {exc}")
        else:
            messages.success(request, f"Added “{attachment.original_name}” for “{item['label']}”.")
    return _back(referral, index)
