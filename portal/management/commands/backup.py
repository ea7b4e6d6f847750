"""`python manage.py backup DIR`: the database and every stored file, with a manifest of
SHA-256 digests (portal/backup.py). DIR must be new or empty."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and every stored file (with their SHA-256) into a new folder."

    def add_arguments(self, parser):
        parser.add_argument("directory", help="a new (or empty) folder for this backup")

    def handle(self, *args, directory, **options):
        try:
            manifest = backup_create(Path(directory))
        except BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        files = manifest["files"]
        size = sum(f["size"] for f in files)
        self.stdout.write(
            f"Backed up the {manifest['database']['vendor']} database and {len(files)} files "
            f"({size / 1e6:.1f} MB) into {directory}"
        )
