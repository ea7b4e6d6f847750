"""Backup and restore (issue 19): a populated portal (the demo data, its documents, parts and
packets in a bucket on SeaweedFS) is backed up, restored into a new empty database and a new
empty bucket, and every referral, document and packet is found with the same digests. The
commands run as an operator runs them: `manage.py` in a process of its own."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Run inside `manage.py shell`: every referral, document and packet, with each stored file's
# SHA-256 as read back from the storage.
INVENTORY = """
import hashlib, json
from referrals.models import Attachment, Packet, Referral
def digest(f):
    with f.open("rb") as h:
        return hashlib.sha256(h.read()).hexdigest()
print(json.dumps({
    "referrals": sorted(Referral.objects.values_list("reference", "status")),
    "attachments": sorted(
        (str(a.uuid), a.sha256, a.file.name, digest(a.file), a.part.name,
         digest(a.part) if a.part else "")
        for a in Attachment.objects.all()),
    "packets": sorted(
        (p.referral.reference, p.version, p.status, p.sha256, p.file.name,
         digest(p.file) if p.file else "")
        for p in Packet.objects.select_related("referral")),
}))
"""

RENDER = """
from referrals.models import Packet
from referrals.packets.queue import packet_render
for pk in Packet.objects.filter(status="queued").values_list("pk", flat=True):
    packet_render(packet_id=pk)
print(Packet.objects.filter(status="ready").count())
"""

STORE_TWO = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
default_storage.save("attachments/a/one.pdf", ContentFile(b"%PDF-1.4 one"))
default_storage.save("packets/b/two.pdf", ContentFile(b"%PDF-1.4 two"))
"""


def database_urls():
    """A new source and target database of the kind the tests run on."""
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        import psycopg

        stem = base.rsplit("/", 1)[0]
        names = [f"backup_{uuid.uuid4().hex[:10]}" for _ in range(2)]
        with psycopg.connect(f"{stem}/postgres", autocommit=True) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')  # a generated name, never input
        return [f"{stem}/{name}" for name in names], names, stem
    return None, None, None


def drop_databases(stem, names):
    import psycopg

    with psycopg.connect(f"{stem}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict, *args: str, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture
def two_databases(tmp_path):
    """(source URL, target URL), new and empty: PostgreSQL when the tests run on it (pg_dump
    and pg_restore), else SQLite files (its online backup API)."""
    urls, names, stem = database_urls()
    if urls is None:
        yield [
            f"sqlite:///{tmp_path / 'source.sqlite3'}",
            f"sqlite:///{tmp_path / 'target.sqlite3'}",
        ]
        return
    yield urls
    drop_databases(stem, names)


def process_env(tmp_path: Path, database_url: str, storage: dict, name: str) -> dict:
    env = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    # No Redis: the demo's tasks go to a filesystem broker of this process's own, unconsumed.
    env.update({"DEBUG": "1", "DATABASE_URL": database_url, "VAR_DIR": str(tmp_path / name),
                "DJANGO_SETTINGS_MODULE": "portal.settings", **storage})  # fmt: skip
    return env


def test_a_backup_restores_into_an_empty_database_and_bucket_with_the_same_digests(
    tmp_path, seaweedfs, two_databases
):
    source_url, target_url = two_databases
    source_bucket, target_bucket = seaweedfs.new_bucket(), seaweedfs.new_bucket()
    source = process_env(tmp_path, source_url, seaweedfs.env(source_bucket), "source")
    target = process_env(tmp_path, target_url, seaweedfs.env(target_bucket), "target")
    try:
        manage(source, "migrate", "--noinput", "-v", "0")
        manage(source, "seed_demo", "--force")
        assert int(manage(source, "shell", "-c", RENDER).stdout.split()[-1]) >= 4
        before = json.loads(manage(source, "shell", "-c", INVENTORY).stdout.splitlines()[-1])
        assert len(before["referrals"]) == 6 and len(before["attachments"]) >= 6
        assert all(a[1] == a[3] for a in before["attachments"])  # sanity: digests as stored

        backup = tmp_path / "backup"
        made = manage(source, "backup", str(backup))
        assert "Backed up" in made.stdout
        manifest = json.loads((backup / "manifest.json").read_text())
        assert len(manifest["files"]) == len(seaweedfs.keys(source_bucket))
        assert "Traceback" not in manage(source, "restore", "--check", str(backup)).stderr

        restored = manage(target, "restore", str(backup))
        assert "Restored" in restored.stdout, restored.stdout
        after = json.loads(manage(target, "shell", "-c", INVENTORY).stdout.splitlines()[-1])
        assert after == before  # every referral, document and packet, with the same digests
        assert seaweedfs.keys(target_bucket) == seaweedfs.keys(source_bucket)
        # The restored portal is a working one: migrations all applied, nothing to do.
        plan = manage(target, "migrate", "--check", check=False)
        assert plan.returncode == 0, plan.stdout + plan.stderr

        # Restoring again refuses: neither the database nor the bucket is empty now.
        again = manage(target, "restore", str(backup), check=False)
        assert again.returncode == 2 and "not empty" in again.stderr
        assert "Traceback" not in again.stderr
    finally:
        seaweedfs.drop_bucket(source_bucket)
        seaweedfs.drop_bucket(target_bucket)


def test_a_damaged_backup_is_named_and_restores_nothing(tmp_path, seaweedfs):
    bucket, target_bucket = seaweedfs.new_bucket(), seaweedfs.new_bucket()
    source = process_env(
        tmp_path, f"sqlite:///{tmp_path / 's.sqlite3'}", seaweedfs.env(bucket), "s"
    )
    target = process_env(tmp_path, f"sqlite:///{tmp_path / 't.sqlite3'}",
                         seaweedfs.env(target_bucket), "t")  # fmt: skip
    try:
        manage(source, "migrate", "--noinput", "-v", "0")
        manage(source, "shell", "-c", STORE_TWO)
        backup = tmp_path / "backup"
        manage(source, "backup", str(backup))
        # A backup folder is refused a second time: each backup gets a new one.
        twice = manage(source, "backup", str(backup), check=False)
        assert twice.returncode == 2 and "is not empty" in twice.stderr
        manifest = json.loads((backup / "manifest.json").read_text())
        damaged = backup / "files" / manifest["files"][0]["name"]
        damaged.write_bytes(damaged.read_bytes() + b"x")
        check = manage(target, "restore", "--check", str(backup), check=False)
        assert check.returncode == 2 and manifest["files"][0]["name"] in check.stderr
        assert "does not match its digest" in check.stderr and "Traceback" not in check.stderr
        restore = manage(target, "restore", str(backup), check=False)
        assert restore.returncode == 2
        assert seaweedfs.keys(target_bucket) == {}  # nothing written from a damaged backup
        # A manifest naming a file outside the storage is refused.
        manifest["files"][0]["name"] = "../../etc/passwd"
        (backup / "manifest.json").write_text(json.dumps(manifest))
        escape = manage(target, "restore", "--check", str(backup), check=False)
        assert escape.returncode == 2 and "outside the storage" in escape.stderr
        missing = manage(target, "restore", str(tmp_path / "nowhere"), check=False)
        assert missing.returncode == 2 and "No manifest.json" in missing.stderr
    finally:
        seaweedfs.drop_bucket(bucket)
        seaweedfs.drop_bucket(target_bucket)
