"""Documents and packets: uploading, deleting from a draft, downloading, the packet viewer, an
admin's retry. Stored files are only ever served from here, after the access check."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from portal.audit import audit_record
from portal.roles import ADMIN, REFERRER, role_required
from referrals.access import referral_for_user
from referrals.attachments import AlreadyAttached, attachment_add
from referrals.attachments import attachment_delete as delete_attachment
from referrals.booking import booking_letter_pdf
from referrals.errors import TransitionNotAllowed
from referrals.file_checks import DocumentRejected, safe_display_name
from referrals.forms.intake import AttachmentForm
from referrals.models import Packet, Referral
from referrals.packets.build import packet_summary_pdf
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
    """Files of one kind, each checked and added or refused on its own. The page's script sends
    each file this way with the kind chosen for it and asks for JSON (the line under that
    file); without the script the form posts every file chosen and, accepted or refused, is
    redirected back (post/redirect/get: a reload never re-posts or lands on this URL), each
    message naming its file."""
    referral = referral_for_user(request.user, referral_uuid, action="edit")
    form = AttachmentForm(request.POST, request.FILES)
    results: list[tuple[str, str]] = []  # (success, info or error; message) a file
    if getattr(request, "upload_too_large", None):
        limit = filesizeformat(settings.DOCUMENT_MAX_BYTES)
        too_large = (
            f"That file is over the limit of {limit} a file; nothing was saved. Send a smaller "
            "file or a report instead of the images."
        )
        results.append(("error", too_large))
    elif not form.is_valid():
        if "file" in form.errors:
            results.append(("error", "Choose a file to upload."))
        else:
            problem = " ".join(e for errors in form.errors.values() for e in errors)
            results += [("error", _refused(f, problem)) for f in request.FILES.getlist("file")]
    else:
        files = form.cleaned_data["file"]
        token = form.cleaned_data["upload_token"]
        for index, uploaded in enumerate(files):
            try:
                attachment = attachment_add(
                    referral=referral, kind=form.cleaned_data["kind"],
                    uploaded_file=uploaded, by=request.user,
                    upload_token=_file_token(token, index, len(files)),
                )  # fmt: skip
            except AlreadyAttached as exc:
                results.append(("info", f"{exc} It was not added again."))
            except DocumentRejected as exc:
                results.append(("error", _refused(uploaded, str(exc))))
            else:
                results.append(("success", f"Added “{attachment.original_name}”."))
    ok = all(level != "error" for level, _ in results)
    if request.headers.get("Accept", "").startswith("application/json"):
        # The script's line under its file; nothing is left for the next page to show.
        text = " ".join(message for _, message in results)
        return JsonResponse({"ok": ok, "message": text}, status=200 if ok else 400)
    for level, message in results:
        getattr(messages, level)(request, message)
    if not ok:
        # The form shown after the redirect keeps the kind that was chosen.
        request.session["upload_kind"] = request.POST.get("kind", "")
    if referral.is_draft:
        return redirect("referral_section", referral.uuid, "documents")
    return redirect(reverse("referral_detail", args=[referral.uuid]) + "#docs-title")


def _file_token(token, index: int, count: int):
    """The idempotency token of the index-th file of a POST: the form's own for a single file
    (the page's script sends each file alone, with a token of its own); for several files in
    one POST (no script), one derived per position, so the same POST sent twice stores each
    file once."""
    if token is None or count == 1:
        return token
    return uuid.uuid5(token, str(index))


def _refused(uploaded, reason: str) -> str:
    return f"“{safe_display_name(uploaded.name)}” was not added: {reason}"


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


@login_required
def packet_summary(request, referral_uuid, packet_uuid):
    """The summary pages of one version's packet: what was sent, printable, for the referrer
    (and the practice). Only a ready version; another referrer's gives 404."""
    referral = referral_for_user(request.user, referral_uuid, action="view")
    packet = get_object_or_404(referral.packets, uuid=packet_uuid, status=Packet.Status.READY)
    audit_record(request=request, action="document_printed", referral=referral,
                 object_repr=f"summary of packet v{packet.version}")  # fmt: skip
    response = HttpResponse(packet_summary_pdf(packet), content_type="application/pdf")
    name = f"{referral.reference}-as-sent-v{packet.version}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def booking_letter(request, referral_uuid):
    """The booking letter (date, hospital, pre-procedure instructions) as a PDF, for the referrer
    and the practice, once the referral is booked."""
    referral = referral_for_user(request.user, referral_uuid, action="view")
    if referral.status != Referral.Status.BOOKED or referral.booked_start is None:
        raise Http404("This referral is not booked")
    audit_record(request=request, action="document_printed", referral=referral,
                 object_repr="booking letter")  # fmt: skip
    response = HttpResponse(booking_letter_pdf(referral), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{referral.reference}-booking.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
