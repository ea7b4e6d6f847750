"""Packet versions through the outbox: a new version queued with the change that needs it,
rendered once by the worker, retried, swept; an admin's retry of a failed one."""

import time
from pathlib import Path
from tempfile import TemporaryDirectory

from django.conf import settings
from django.core.files import File
from django.db import transaction

from referrals import outbox
from referrals.errors import TransitionNotAllowed
from referrals.models import Packet, Referral, packet_path

P = Packet.Status
PACKETS = outbox.register(
    outbox.OutboxKind(
        model=Packet,
        task="referrals.render_packet",
        queued=P.QUEUED,
        working=P.RENDERING,
        done=P.READY,
        failed=P.FAILED,
        files=("file",),
    )
)


def packet_queue(*, referral: Referral, reason: str, first: bool = False) -> Packet:
    """Queue a new packet version, in the caller's transaction; it is sent once that commits.

    The row is the record: if the broker is down when the transaction commits, the packet stays
    queued and the sweeper sends it later. Nothing is lost and the request does not wait.
    `first`: the referral was created in the caller's transaction, so no one else can see it
    and this is version 1 (no lock, no lookup).
    """
    if first:
        packet = Packet.objects.create(referral=referral, version=1, reason=reason)
        outbox.enqueue(PACKETS, packet.pk)
        return packet
    with transaction.atomic():
        # Lock the referral so two changes at once get versions n and n+1, not n twice.
        Referral.objects.select_for_update().filter(pk=referral.pk).first()
        last = referral.packets.order_by("-version").values_list("version", flat=True).first()
        packet = Packet.objects.create(referral=referral, version=(last or 0) + 1, reason=reason)
    outbox.enqueue(PACKETS, packet.pk)
    return packet


def packet_make(packet: Packet) -> dict:
    """Render the packet's PDF into storage; the fields that record it. Idempotent: one file
    per version, under a name made from the row, written again by a second attempt."""
    if settings.PACKET_RENDER_DELAY_SECONDS:  # fault-injection tests only: a slow render
        time.sleep(settings.PACKET_RENDER_DELAY_SECONDS)
    referral = Referral.objects.select_related("referrer__referrer_profile", "preferred_site").get(
        pk=packet.referral_id
    )
    packet.referral = referral
    from referrals.packets.build import build_packet  # WeasyPrint: only where packets render

    with TemporaryDirectory(prefix="packet-") as tmp:
        output = Path(tmp) / "packet.pdf"
        info = build_packet(referral, output, version=packet.version)
        name = packet_path(packet, "packet.pdf")
        storage = packet.file.storage
        if storage.exists(name):  # a half-finished earlier attempt: one file per version
            storage.delete(name)
        with open(output, "rb") as handle:
            saved = storage.save(name, File(handle))
    return {"file": saved, "sha256": info["sha256"], "pages": info["pages"], "size": info["size"]}


def packet_render(*, packet_id: int) -> Packet | None:
    """Render a queued packet now, in this process (the task does the same with retries).
    None if it was not this caller's to render, or it failed (the error is on the row)."""
    if not outbox.run(PACKETS, packet_id, packet_make):
        return None
    return Packet.objects.get(pk=packet_id)


def packet_retry(*, packet: Packet, by) -> None:
    """An admin's retry of a failed packet: the same version, queued again."""
    if not outbox.retry_queued(PACKETS, packet.pk):
        raise TransitionNotAllowed("Only a failed packet can be retried.")


def packets_sweep() -> dict:
    return outbox.sweep(PACKETS)
