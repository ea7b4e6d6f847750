"""Uploading, deleting and downloading documents. Files are only ever served from here."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from portal.audit import audit_record
from portal.roles import REFERRER, role_required
from referrals import services
from referrals.access import referral_for_user
from referrals.documents import DocumentRejected
from referrals.forms import AttachmentForm
from referrals.views import private_file_response
from referrals.views.intake import _documents_section, render_detail


@role_required(REFERRER)
@require_POST
def attachment_upload(request, referral_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    form = AttachmentForm(request.POST, request.FILES)
    too_large = getattr(request, "upload_too_large", None)
    if too_large:
        form.add_error(
            None,
            "That file is over the 100 MB limit a file; nothing was saved. Send a smaller "
            "file or a report instead of the images.",
        )
    elif form.is_valid():
        try:
            attachment = services.attachment_add(
                referral=referral,
                kind=form.cleaned_data["kind"],
                uploaded_file=form.cleaned_data["file"],
                by=request.user,
            )
        except DocumentRejected as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(request, f"Added “{attachment.original_name}”.")
            if referral.is_draft:
                return redirect("referral_section", referral.uuid, "documents")
            return redirect("referral_detail", referral.uuid)
    if referral.is_draft:
        return _documents_section(request, referral, form=form, status=400)
    return render_detail(request, referral, upload_form=form, status=400)


@role_required(REFERRER)
@require_POST
def attachment_delete(request, referral_uuid, attachment_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    attachment = get_object_or_404(referral.attachments, uuid=attachment_uuid)
    try:
        services.attachment_delete(attachment=attachment, by=request.user)
    except services.TransitionNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed “{attachment.original_name}”.")
    return redirect("referral_section", referral.uuid, "documents")


def attachment_download(request, referral_uuid, attachment_uuid):
    """The file, for those who may see the referral. Always a download, never rendered inline."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    referral = referral_for_user(request.user, referral_uuid, action="view")
    attachment = get_object_or_404(referral.attachments, uuid=attachment_uuid)
    audit_record(
        request=request,
        action="document_downloaded",
        referral=referral,
        object_repr=attachment.original_name,
    )
    return private_file_response(
        attachment.file, filename=attachment.original_name, content_type=attachment.content_type
    )
