"""python manage.py render_packet REFERENCE --output FILE: render one packet synchronously."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from referrals.models import Referral
from referrals.packets.build import build_packet


class Command(BaseCommand):
    help = "Render the referral packet for REFERENCE (e.g. VP-2026-00042) to FILE, now."

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("--output", "-o", required=True, help="where to write the PDF")

    def handle(self, *args, reference, output, **options):
        referral = (
            Referral.objects.select_related("referrer__referrer_profile", "preferred_site")
            .filter(reference__iexact=reference.strip())
            .first()
        )
        if referral is None:
            raise CommandError(f"No referral {reference}", returncode=2)
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"No such folder: {path.parent}", returncode=2)
        info = build_packet(referral, path)
        self.stdout.write(
            f"{path}: {info['pages']} pages, {info['size']} bytes, sha256 {info['sha256']}"
        )
