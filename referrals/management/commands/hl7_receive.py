"""python manage.py hl7_receive FILE... | -: process HL7 REF^I12 messages, one ACK each.

Each FILE (or standard input, `-`) holds one or more messages, raw (segments ended by CR, LF or
CR LF) or MLLP framed. Every message gets one ACK on standard output, its segments one a line
and a blank line after it. Exit status 0 when every message was accepted (MSA-1 AA), 2 when any
was not (AE or AR, with an ERR naming the segment and field at fault) or a file could not be
read. Never a traceback.
"""

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from referrals.hl7.batch import process_many
from referrals.hl7.protocol import unframe
from referrals.packets import warm
from referrals.tasks import render_packet  # noqa: F401  (registers the tasks receipt publishes)


def ack_lines(ack: str) -> str:
    return "\n".join(segment for segment in ack.split("\r") if segment) + "\n\n"


class Command(BaseCommand):
    help = "Process HL7 v2.4 REF^I12 referral messages from files (or - for standard input)."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="a message file, or -")

    def handle(self, *args, files, **options):
        warm.enable()
        # Read at most a little more than the limit: a larger file is refused by size.
        cap = settings.HL7_MAX_MESSAGE_BYTES * 2 + 16
        all_accepted = True
        problems = []
        for name in files:
            try:
                data = self._read(name, cap)
            except OSError as exc:
                problems.append(f"{name}: {exc.strerror or exc}")
                all_accepted = False
                continue
            messages = unframe(data) if data.strip() else []
            if not messages:
                problems.append(f"{name}: no HL7 message in it")
                all_accepted = False
            for answer in process_many(messages):
                self.stdout.write(ack_lines(answer.ack), ending="")
                all_accepted = all_accepted and answer.accepted
        if problems:
            raise CommandError("; ".join(problems), returncode=2)
        if not all_accepted:
            sys.exit(2)

    def _read(self, name: str, cap: int) -> bytes:
        if name == "-":
            return sys.stdin.buffer.read(cap)
        path = Path(name)
        if path.is_dir():
            raise IsADirectoryError(21, "is a folder, not a file")
        with path.open("rb") as handle:
            return handle.read(cap)
