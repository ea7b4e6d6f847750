"""python manage.py eligibility FILE: assess facts from a JSON file, or stdin with '-'."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from eligibility.rules import FactsError
from eligibility.service import eligibility_assess_json

INVALID = 2  # exit status for invalid input, whatever the outcome of valid input (that is 0)


class Command(BaseCommand):
    help = (
        "Assess referral facts against the practice's criteria. FILE holds a JSON object (one "
        "result out) or a JSON list (a list out, in order); '-' reads stdin. Exit 0 for valid "
        "input whatever the outcome; exit 2 with each bad field named for invalid input."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="path to a JSON file, or - for stdin")

    def handle(self, *args, file, **options):
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
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"input is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                returncode=INVALID,
            ) from None
        try:
            result = eligibility_assess_json(payload)
        except FactsError as exc:
            lines = "\n".join(f"  {field}: {message}" for field, message in exc.errors.items())
            raise CommandError(f"invalid facts:\n{lines}", returncode=INVALID) from None
        self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
