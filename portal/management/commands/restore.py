"""`python manage.py restore DIR`: a backup made by `manage.py backup`, into an empty database
and an empty storage, every digest checked. `--check` only checks the backup."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.backup import BackupError, backup_check, backup_restore


class Command(BaseCommand):
    help = "Restore a backup into an empty database and storage; --check only verifies it."

    def add_arguments(self, parser):
        parser.add_argument("directory", help="a folder made by `manage.py backup`")
        parser.add_argument(
            "--check", action="store_true", help="check every digest and change nothing"
        )

    def handle(self, *args, directory, check, **options):
        try:
            if check:
                manifest = backup_check(Path(directory))
                self.stdout.write(
                    f"The backup is whole: the database dump and {len(manifest['files'])} "
                    f"files match their digests (made {manifest['created_at']})"
                )
                return
            restored = backup_restore(Path(directory))
        except BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(
            f"Restored the {restored.database} database and {restored.files} files "
            f"({restored.bytes / 1e6:.1f} MB); every one of the {restored.referenced} files "
            "the database names is in the storage"
        )
