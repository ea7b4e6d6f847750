"""Referral packets: shown inline to the practice's staff, downloaded, retried."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from portal.audit import audit_record
from portal.roles import ADMIN, role_required
from referrals import services
from referrals.access import referral_for_user
from referrals.models import Packet
from referrals.views import private_file_response


def _packet(request, referral_uuid, packet_uuid) -> Packet:
    referral = referral_for_user(request.user, referral_uuid, action="staff")
    packet = get_object_or_404(referral.packets, uuid=packet_uuid)
    if packet.status != Packet.Status.READY or not packet.file:
        raise Http404("This packet is not ready")
    return packet


def _serve(request, packet: Packet, *, inline: bool) -> FileResponse:
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


@xframe_options_sameorigin  # the review page shows it in a frame beside the decision form
def packet_inline(request, referral_uuid, packet_uuid):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return _serve(request, _packet(request, referral_uuid, packet_uuid), inline=True)


def packet_download(request, referral_uuid, packet_uuid):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return _serve(request, _packet(request, referral_uuid, packet_uuid), inline=False)


@role_required(ADMIN)
@require_POST
def packet_retry(request, referral_uuid, packet_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="staff")
    packet = get_object_or_404(referral.packets, uuid=packet_uuid)
    try:
        services.packet_retry(packet=packet, by=request.user)
    except services.TransitionNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Packet version {packet.version} queued again.")
    return redirect("referral_detail", referral.uuid)
