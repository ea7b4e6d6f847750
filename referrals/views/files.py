"""Documents and packets: uploading, deleting from a draft, downloading, the packet viewer, an
admin's retry. Stored files are only ever served from here, after the access check."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from portal.audit import audit_record
from portal.roles import ADMIN, REFERRER, role_required
from referrals.access import referral_for_user
from referrals.attachments import attachment_add
from referrals.attachments import attachment_delete as delete_attachment
from referrals.errors import TransitionNotAllowed
from referrals.file_checks import DocumentRejected, safe_display_name
from referrals.forms.intake import AttachmentForm
from referrals.models import Packet
from referrals.packets.queue import packet_retry as retry_packet


def private_file_response(fieldfile, *, filename: str, content_type: str, inline: bool = False):
    """A stored file served by a view that has checked access: never sniffed, never cached."""
    response = FileResponse(
        fieldfile.open("rb"),
        as_attachment=not inline,
        filename=filename,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(REFERRER)
@require_POST
def attachment_upload(request, referral_uuid):
    """One file and its kind. The page's script sends each of several files this way and asks
    for JSON (its line under that file); without it the form posts and, accepted or refused,
    is redirected back (post/redirect/get: a reload never re-posts or lands on this URL), the
    message naming the file."""
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    form = AttachmentForm(request.POST, request.FILES)
    uploaded = request.FILES.get("file")
    name = safe_display_name(uploaded.name) if uploaded else ""
    ok, text = False, ""
    if getattr(request, "upload_too_large", None):
        limit = filesizeformat(settings.DOCUMENT_MAX_BYTES)
        text = (f"That file is over the limit of {limit} a file; nothing was saved. Send a "
                "smaller file or a report instead of the images.")  # fmt: skip
    elif not form.is_valid():
        text = " ".join(e for errors in form.errors.values() for e in errors)
        if "file" in form.errors:
            text = "Choose a file to upload."
    else:
        try:
            attachment = attachment_add(
                referral=referral,
                kind=form.cleaned_data["kind"],
                uploaded_file=form.cleaned_data["file"],
                by=request.user,
            )
        except DocumentRejected as exc:
            text = str(exc)
        else:
            ok, text = True, f"Added “{attachment.original_name}”."
    if not ok:
        text = f"“{name}” was not added: {text}" if name else text
        # The form shown after the redirect keeps the kind that was chosen.
        request.session["upload_kind"] = request.POST.get("kind", "")
    (messages.success if ok else messages.error)(request, text)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": ok, "message": text}, status=200 if ok else 400)
    if referral.is_draft:
        return redirect("referral_section", referral.uuid, "documents")
    return redirect(reverse("referral_detail", args=[referral.uuid]) + "#docs-title")


@role_required(REFERRER)
@require_POST
def attachment_delete(request, referral_uuid, attachment_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    attachment = get_object_or_404(referral.attachments, uuid=attachment_uuid)
    try:
        delete_attachment(attachment=attachment, by=request.user)
    except TransitionNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed “{attachment.original_name}”.")
    return redirect("referral_section", referral.uuid, "documents")


@login_required
def attachment_download(request, referral_uuid, attachment_uuid):
    """The file, for those who may see the referral. Always a download, never rendered inline."""
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


def _packet(request, referral_uuid, packet_uuid) -> Packet:
    referral = referral_for_user(request.user, referral_uuid, action="staff")
    packet = get_object_or_404(referral.packets, uuid=packet_uuid)
    if packet.status != Packet.Status.READY or not packet.file:
        raise Http404("This packet is not ready")
    return packet


def _serve_packet(request, packet: Packet, *, inline: bool) -> FileResponse:
    audit_record(
        request=request,
        action="packet_downloaded",
        referral=packet.referral,
        object_repr=f"packet v{packet.version}",
        detail="viewed inline" if inline else "downloaded",
    )
    return private_file_response(
        packet.file,
        filename=f"{packet.referral.reference}-packet-v{packet.version}.pdf",
        content_type="application/pdf",
        inline=inline,
    )


@login_required
@xframe_options_sameorigin  # the review page shows it in a frame beside the decision form
def packet_inline(request, referral_uuid, packet_uuid):
    return _serve_packet(request, _packet(request, referral_uuid, packet_uuid), inline=True)


@login_required
def packet_download(request, referral_uuid, packet_uuid):
    return _serve_packet(request, _packet(request, referral_uuid, packet_uuid), inline=False)


@role_required(ADMIN)
@require_POST
def packet_retry(request, referral_uuid, packet_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="staff")
    packet = get_object_or_404(referral.packets, uuid=packet_uuid)
    try:
        retry_packet(packet=packet, by=request.user)
    except TransitionNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Packet version {packet.version} queued again.")
    return redirect("referral_detail", referral.uuid)
