"""Backup and restore of a whole portal: the database and every stored file.

`backup_create(DIR)`: a consistent dump of the database (pg_dump's custom format for
PostgreSQL; SQLite's online backup API for SQLite), then a copy of every file in the storage
(the local disk or the bucket) with its SHA-256, listed in DIR/manifest.json. The database is
dumped first: stored files are never changed once written, so every file a dumped row names is
already in the storage when the files are copied (one uploaded meanwhile is copied too, and is
simply not referred to).

`backup_restore(DIR)`: into an empty database and an empty storage only; every digest is
checked before anything is written and again once each file is in the storage, and then every
file that a restored row names is looked for.

`backup_check(DIR)`: reads the backup and checks every digest, changing nothing: how to check
that a backup is whole without restoring it.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1024 * 1024


class BackupError(Exception):
    """What went wrong, for the operator; never a traceback."""


@dataclass(frozen=True)
class Restored:
    database: str
    files: int
    bytes: int
    referenced: int


def _sha256(handle) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _sha256_path(path: Path) -> str:
    with open(path, "rb") as handle:
        return _sha256(handle)


def _safe_name(name: str) -> str:
    """A stored file's name as the manifest gives it: relative, without `..` (a manifest is
    input like any other)."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
        raise BackupError(f"The manifest names a file outside the storage: {name!r}")
    return path.as_posix()


# --- the storage ---------------------------------------------------------------------------------


def stored_names(storage=None, prefix: str = ""):
    """Every file in the storage, depth first, in a stable order."""
    storage = storage or default_storage
    try:
        folders, files = storage.listdir(prefix)
    except FileNotFoundError:  # a local media folder not made yet: nothing stored
        return
    for name in sorted(files):
        yield f"{prefix}/{name}" if prefix else name
    for folder in sorted(folders):
        yield from stored_names(storage, f"{prefix}/{folder}" if prefix else folder)


def referenced_names() -> set[str]:
    """Every file name a row of any model's FileField holds."""
    names = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.FileField):
                values = model._default_manager.exclude(**{field.name: ""}).values_list(
                    field.name, flat=True
                )
                names.update(v for v in values if v)
    return names


# --- the database --------------------------------------------------------------------------------


def _pg_env(settings_dict: dict) -> dict:
    """libpq's variables, so that no password is on a command line (`ps` shows those)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"),
                          ("PGPASSWORD", "PASSWORD"), ("PGDATABASE", "NAME")):  # fmt: skip
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    return env


def _run(command: list[str], env: dict) -> None:
    binary = shutil.which(command[0])
    if binary is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL's client programs)")
    # A fixed program found on PATH, its arguments a list (no shell), the password in the env.
    result = subprocess.run(  # noqa: S603  # nosec B603
        [binary, *command[1:]], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{command[0]} failed: {last}")


def _database_dump(target: Path) -> dict:
    connection = connections[DEFAULT_DB_ALIAS]
    vendor = connection.vendor
    if vendor == "postgresql":
        path = target / "database.pgdump"
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={path}"],
             _pg_env(connection.settings_dict))  # fmt: skip
    elif vendor == "sqlite":
        path = target / "database.sqlite3"
        connection.ensure_connection()
        destination = sqlite3.connect(path)
        try:
            connection.connection.backup(destination)  # a consistent copy of a live database
        finally:
            destination.close()
    else:
        raise BackupError(f"Backing up a {vendor} database is not supported")
    recorder = MigrationRecorder(connection)
    latest = {}
    for app_label, name in recorder.migration_qs.order_by("id").values_list("app", "name"):
        latest[app_label] = name
    return {"vendor": vendor, "file": path.name, "size": path.stat().st_size,
            "sha256": _sha256_path(path), "migrations": latest}  # fmt: skip


def _database_is_empty(connection) -> bool:
    with connection.cursor() as cursor:
        return not connection.introspection.table_names(cursor)


def _database_restore(source: Path, info: dict) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    if info["vendor"] != connection.vendor:
        raise BackupError(
            f"This backup is of a {info['vendor']} database; DATABASE_URL names a "
            f"{connection.vendor} one"
        )
    if not _database_is_empty(connection):
        raise BackupError(
            "The database is not empty: restore only into a new, empty database "
            "(e.g. `createdb portal_restored` and point DATABASE_URL at it)"
        )
    path = source / info["file"]
    if connection.vendor == "postgresql":
        connection.close()
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
              "--single-transaction", f"--dbname={connection.settings_dict['NAME']}", str(path)],
             _pg_env(connection.settings_dict))  # fmt: skip
    else:
        connection.ensure_connection()
        backup = sqlite3.connect(path)
        try:
            backup.backup(connection.connection)
        finally:
            backup.close()
        connection.close()


# --- backup, check, restore ----------------------------------------------------------------------


def backup_create(directory: Path) -> dict:
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: give a new folder for each backup")
    directory.mkdir(parents=True, exist_ok=True)
    database = _database_dump(directory)
    files_dir = directory / "files"
    files = []
    for name in stored_names():
        target = files_dir / _safe_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with default_storage.open(name, "rb") as source, open(target, "wb") as out:
            for chunk in iter(lambda: source.read(CHUNK), b""):  # noqa: B023
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        files.append({"name": name, "size": size, "sha256": digest.hexdigest()})
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "database": database,
        "files": files,
    }
    partial = directory / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=1))
    partial.rename(directory / MANIFEST)  # the manifest is there only once all else is
    return manifest


def backup_read(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(
            f"No {MANIFEST} in {directory}: not a backup, or an unfinished one"
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup manifest this portal reads (format {FORMAT})")
    return manifest


def backup_check(directory: Path) -> dict:
    """Every digest of the backup checked; raises BackupError naming the first bad file."""
    directory = Path(directory)
    manifest = backup_read(directory)
    database = manifest["database"]
    path = directory / database["file"]
    if not path.is_file() or _sha256_path(path) != database["sha256"]:
        raise BackupError(f"The database dump {path.name} is missing or does not match its digest")
    for item in manifest["files"]:
        path = directory / "files" / _safe_name(item["name"])
        if not path.is_file() or _sha256_path(path) != item["sha256"]:
            raise BackupError(f"{item['name']} is missing or does not match its digest")
    return manifest


def backup_restore(directory: Path) -> Restored:
    directory = Path(directory)
    manifest = backup_check(directory)  # nothing is written from a damaged backup
    if next(iter(stored_names()), None) is not None:
        raise BackupError(
            "The storage is not empty: restore only into a new, empty bucket or media folder"
        )
    _database_restore(directory, manifest["database"])
    total = 0
    for item in manifest["files"]:
        name = _safe_name(item["name"])
        with open(directory / "files" / name, "rb") as handle:
            saved = default_storage.save(name, File(handle, name=name))
        if saved != name:
            raise BackupError(f"{name} was stored as {saved}: the storage was not empty")
        with default_storage.open(saved, "rb") as stored:
            if _sha256(stored) != item["sha256"]:
                raise BackupError(f"{name} does not match its digest once stored")
        total += item["size"]
    missing = referenced_names() - {item["name"] for item in manifest["files"]}
    if missing:
        raise BackupError(
            f"{len(missing)} file(s) that the database names are not in the backup, e.g. "
            f"{sorted(missing)[0]}"
        )
    return Restored(database=manifest["database"]["vendor"], files=len(manifest["files"]),
                    bytes=total, referenced=len(referenced_names()))  # fmt: skip
