"""Object storage (STORAGE_URL=s3://...) on a real S3 server, SeaweedFS: uploads, packet parts
and packets go to a private bucket, the worker reads documents through the storage API, and
files reach a browser only through the views that check access."""

import hashlib
import shutil
import subprocess

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.celery import app
from portal.env import env_storage
from referrals.models import Attachment, Packet
from referrals.packets import queue as packet_queue
from tests.factories import make_referral
from tests.files import pdf_bytes
from tests.test_packet_worker import packet_status, wait_for
from tests.test_packets import referral_with_documents

# --- STORAGE_URL -------------------------------------------------------------------------------


def test_unset_or_file_storage_url_means_the_local_disk(monkeypatch, tmp_path):
    monkeypatch.delenv("STORAGE_URL", raising=False)
    local = env_storage("STORAGE_URL", tmp_path)
    assert (
        local["BACKEND"].endswith("FileSystemStorage") and local["OPTIONS"]["location"] == tmp_path
    )
    monkeypatch.setenv("STORAGE_URL", "file:///srv/portal/media")
    assert env_storage("STORAGE_URL", tmp_path)["OPTIONS"]["location"] == "/srv/portal/media"


def test_an_s3_storage_url_names_bucket_endpoint_region_and_prefix(monkeypatch):
    monkeypatch.setenv(
        "STORAGE_URL",
        "s3://referrals?endpoint=http://s3.internal:8333&region=ap-southeast-2&prefix=/portal/",
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "key-secret")
    config = env_storage("STORAGE_URL", None)
    options = config["OPTIONS"]
    assert config["BACKEND"] == "portal.storage.PrivateS3Storage"
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"]) == (
        "referrals", "http://s3.internal:8333", "ap-southeast-2"
    )  # fmt: skip
    assert (options["location"], options["addressing_style"]) == ("portal", "path")
    assert (options["access_key"], options["secret_key"]) == ("key-id", "key-secret")
    assert options["default_acl"] == "private" and options["file_overwrite"] is False


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("gs://bucket", "must be s3://bucket"),
        ("s3://", "needs a bucket name"),
        ("s3://key:secret@bucket", "must not carry keys"),
        ("s3://bucket?endpoint=s3.internal:8333", "endpoint must be an http"),
        ("s3://bucket?acl=public-read", "unknown option acl"),
        ("s3://bucket?addressing=sideways", "addressing must be"),
    ],
)
def test_a_bad_storage_url_stops_start_up_naming_the_problem(monkeypatch, url, says):
    monkeypatch.setenv("STORAGE_URL", url)
    with pytest.raises(ImproperlyConfigured, match="STORAGE_URL") as info:
        env_storage("STORAGE_URL", None)
    assert says in str(info.value)
    assert "secret" not in str(info.value)


# --- on SeaweedFS ------------------------------------------------------------------------------


def test_the_bucket_storage_never_makes_a_url_for_a_file(s3_media):
    name = default_storage.save("probe.txt", SimpleUploadedFile("p", b"x"))
    with pytest.raises(NotImplementedError):
        default_storage.url(name)
    default_storage.delete(name)


def test_an_upload_goes_to_the_bucket_and_comes_back_only_through_the_checked_view(
    client, referrer, other_referrer, s3_media, seaweedfs
):
    referral = make_referral(referrer)
    content = pdf_bytes(pages=2)
    client.force_login(referrer)
    response = client.post(
        reverse("attachment_upload", args=[referral.uuid]),
        {"kind": "clinical_notes", "file": SimpleUploadedFile("notes.pdf", content)},
    )
    assert response.status_code == 302
    attachment = referral.attachments.get()
    stored = seaweedfs.keys(s3_media)
    assert stored == {attachment.file.name: content}  # under its random name, in the bucket
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    # The objects are private: the S3 endpoint refuses a request without the keys.
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{seaweedfs.endpoint}/{s3_media}/{attachment.file.name}")  # noqa: S310
    assert refused.value.code in (401, 403)

    download = reverse("attachment_download", args=[referral.uuid, attachment.uuid])
    page = client.get(reverse("referral_section", args=[referral.uuid, "documents"]))
    assert seaweedfs.endpoint.encode() not in page.content  # no link to the bucket, ever
    response = client.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["X-Content-Type-Options"] == "nosniff"
    client.force_login(other_referrer)
    assert client.get(download).status_code == 404


def test_packet_parts_and_the_packet_are_made_from_and_into_the_bucket(
    client, referrer, admin_user, s3_media, seaweedfs, tmp_path
):
    referral = referral_with_documents(referrer)
    packet = referral.packets.get()
    packet = packet_queue.packet_render(packet_id=packet.pk)
    assert packet is not None and packet.status == Packet.Status.READY
    stored = seaweedfs.keys(s3_media)
    attachments = list(referral.attachments.all())
    for attachment in attachments:
        assert attachment.part_status == Attachment.PartStatus.READY
        assert attachment.file.name in stored and attachment.part.name in stored
    assert hashlib.sha256(stored[packet.file.name]).hexdigest() == packet.sha256
    assert len(stored) == 2 * len(attachments) + 1  # each document, its part, the packet

    client.force_login(admin_user)
    response = client.get(reverse("packet_download", args=[referral.uuid, packet.uuid]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == packet.sha256
    if shutil.which("qpdf"):
        (tmp_path / "packet.pdf").write_bytes(body)
        check = subprocess.run(["qpdf", "--check", str(tmp_path / "packet.pdf")],
                               capture_output=True, text=True)  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_reads_the_documents_from_the_bucket_and_stores_the_packet_there(
    referrer, s3_media, seaweedfs
):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        referral = referral_with_documents(referrer)  # on_commit sends the tasks
        wait_for(lambda: packet_status(referral) == "ready", timeout=120, what="a ready packet")
    packet = referral.packets.get()
    stored = seaweedfs.keys(s3_media)
    assert hashlib.sha256(stored[packet.file.name]).hexdigest() == packet.sha256
    assert all(a.part.name in stored for a in referral.attachments.all())


def test_the_bucket_storage_bounds_an_uploads_memory(s3_media):
    # boto3's default holds ten 8 MB parts of an upload in memory with ten threads (about
    # 150 MB for a 200 MB document in bench/RESULTS.md); the portal's holds two.
    config = default_storage.transfer_config
    assert config.max_in_memory_upload_chunks == 2 and config.max_request_concurrency == 2
    assert config.multipart_chunksize == 8 * 1024 * 1024
