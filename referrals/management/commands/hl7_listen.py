"""python manage.py hl7_listen --host 127.0.0.1 --port 2575: receive HL7 REF^I12 referrals
over MLLP (referrals/hl7/listener.py), one ACK per message, many connections at once."""

import asyncio
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from referrals.hl7.listener import bind, serve, serve_processes
from referrals.packets import warm
from referrals.tasks import render_packet  # noqa: F401  (registers the tasks receipt publishes)


class Command(BaseCommand):
    help = "Listen for HL7 v2.4 REF^I12 referral messages over MLLP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, required=True, help="0 for any free port")

    def handle(self, *args, host, port, **options):
        if not 0 <= port <= 65535:
            raise CommandError(f"--port {port}: a port is 0 to 65535", returncode=2)
        warm.enable()

        def ready(bound_host, bound_port):
            self.stdout.write(f"Listening for HL7 (MLLP) on {bound_host}:{bound_port}")
            sys.stdout.flush()

        try:
            sock = bind(host, port)
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {host}:{port}: {exc.strerror}", returncode=2
            ) from None
        processes = settings.HL7_LISTEN_PROCESSES
        try:
            if processes == 1:
                asyncio.run(serve(sock=sock, ready=ready))
            else:
                ready(*sock.getsockname()[:2])
                serve_processes(sock, processes)
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()
