"""python manage.py sweep_uploads [--max-age SECONDS]: delete temporary upload files left behind
(by a web worker killed mid-upload) older than UPLOAD_TEMP_MAX_AGE_SECONDS."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from referrals.uploads import sweep_upload_temp


class Command(BaseCommand):
    help = "Delete temporary upload files older than UPLOAD_TEMP_MAX_AGE_SECONDS."

    def add_arguments(self, parser):
        parser.add_argument("--max-age", type=int, default=None, metavar="SECONDS",
                            help="override UPLOAD_TEMP_MAX_AGE_SECONDS")  # fmt: skip

    def handle(self, *args, max_age=None, **options):
        if max_age is not None and max_age < 0:
            raise CommandError("--max-age must be 0 or more seconds", returncode=2)
        removed = sweep_upload_temp(max_age=max_age)
        self.stdout.write(f"Removed {removed} temporary upload file(s) from "
                          f"{settings.FILE_UPLOAD_TEMP_DIR or '(none set)'}.")  # fmt: skip
