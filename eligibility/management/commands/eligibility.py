"""python manage.py eligibility FILE: assess facts from a JSON file, or stdin with '-'."""

import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from eligibility.rules import FactsError
from eligibility.service import BatchTooLarge, eligibility_parse, eligibility_result, results_json

INVALID = 2  # exit status for invalid input, whatever the outcome of valid input (that is 0)


class Command(BaseCommand):
    help = (
        "Assess referral facts against the practice's criteria. FILE holds a JSON object (one "
        "result out) or a JSON list (a list out, in order, written as each result is made); '-' "
        "reads stdin. Exit 0 for valid input whatever the outcome; exit 2 with each bad field "
        "named for invalid input (nothing is written to stdout then)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="path to a JSON file, or - for stdin")
        parser.add_argument(
            "--max-batch",
            type=int,
            default=settings.ELIGIBILITY_COMMAND_MAX_BATCH,
            help="the longest list taken (default ELIGIBILITY_COMMAND_MAX_BATCH, %(default)s)",
        )

    def handle(self, *args, file, max_batch, **options):
        payload = self._read(file)
        try:
            parsed = eligibility_parse(payload, max_batch=max_batch)
        except BatchTooLarge as exc:
            raise CommandError(f"input is too long: {exc}", returncode=INVALID) from None
        except FactsError as exc:
            lines = "\n".join(f"  {field}: {message}" for field, message in exc.errors.items())
            raise CommandError(f"invalid facts:\n{lines}", returncode=INVALID) from None
        if not isinstance(parsed, list):
            self.stdout.write(json.dumps(eligibility_result(parsed), indent=2, ensure_ascii=False))
            return
        for piece in results_json(parsed, indent=2):
            self.stdout.write(piece, ending="")
        self.stdout.write("")

    def _read(self, file):
        try:
            if file == "-":
                text = sys.stdin.read()
            else:
                with open(file, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}", returncode=INVALID) from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text", returncode=INVALID) from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"input is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                returncode=INVALID,
            ) from None
        except RecursionError:
            raise CommandError(
                "input is not valid JSON here: nested too deeply", returncode=INVALID
            ) from None
        except ValueError:
            raise CommandError(
                "input is not valid JSON here: a number in it is too long", returncode=INVALID
            ) from None
