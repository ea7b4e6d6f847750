"""Logs (issue 19): JSON lines with a request id that the worker carries on, and no patient
detail in any line of a whole journey, web and worker alike."""

import io
import json
import logging

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.celery import app
from portal.request_id import JsonFormatter, RequestIdFilter
from referrals.models import Referral
from tests.factories import make_referral
from tests.files import image_bytes, pdf_bytes
from tests.test_intake import patient_post, section_url
from tests.test_packet_worker import packet_status, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The synthetic patient of this journey: names and numbers no other part of the page uses.
GIVEN, FAMILY, PHONE, STREET = "Wilhelmina", "Quarrington", "0491 570 156", "17 Fictional Lane"


@pytest.fixture
def json_log():
    """Every log record from any logger and thread, as the production JSON formatter writes
    it, from when `attach()` is called (after the test worker has configured logging again,
    which replaces the root logger's handlers)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())  # LOG_FORMAT=json's formatter
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level

    def attach():
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)

    yield stream, attach
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_a_response_carries_the_request_id_it_was_given_or_a_new_one(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="balancer-id-0001")["X-Request-ID"] == (
        "balancer-id-0001"
    )
    made = client.get("/healthz")["X-Request-ID"]
    assert len(made) == 32 and made != "balancer-id-0001"
    # An id that would not be safe in a log line is replaced, not copied.
    odd = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith a newline")["X-Request-ID"]
    assert "\n" not in odd and " " not in odd


def test_a_whole_journey_logs_json_with_request_ids_and_no_patient_detail(
    client, referrer, admin_user, radiologist, private_media, json_log, caplog
):
    draft = make_referral(referrer)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        stream, attach = json_log
        attach()
        client.force_login(referrer)
        patient = patient_post(
            patient_given_name=GIVEN, patient_family_name=FAMILY, patient_phone=PHONE,
            address_line=STREET,
        )  # fmt: skip
        response = client.post(section_url(draft, "patient"), patient)
        assert response.status_code in (200, 302)
        for kind, name, content in (
            ("clinical_notes", f"{FAMILY}-notes.pdf", pdf_bytes(pages=2)),
            ("imaging", f"{GIVEN}-spine.png", image_bytes("PNG")),
        ):
            upload = client.post(
                reverse("attachment_upload", args=[draft.uuid]),
                {"kind": kind, "file": SimpleUploadedFile(name, content)},
            )
            assert upload.status_code == 302
        # A document the checks refuse, named after the patient: the refusal is logged, if
        # at all, without the name.
        client.post(
            reverse("attachment_upload", args=[draft.uuid]),
            {"kind": "other", "file": SimpleUploadedFile(f"{FAMILY}.txt", b"not a document")},
        )
        submit = client.post(
            section_url(draft, "review"), {}, HTTP_X_REQUEST_ID="journey-submit-01"
        )
        assert submit.status_code == 302
        assert Referral.objects.get(pk=draft.pk).status == "submitted"
        wait_for(lambda: packet_status(draft) == "ready", timeout=120, what="a ready packet")

        # A search the referrer may not make, with the name in its query string: Django logs
        # the refusal (with the request attached), the name must not follow.
        refused = client.get(reverse("triage_queue"), {"q": FAMILY}, HTTP_X_REQUEST_ID="refused-01")
        assert refused.status_code in (403, 404)
        client.force_login(admin_user)
        queue = client.get(reverse("triage_queue"), {"q": FAMILY})
        assert FAMILY.encode() in queue.content  # the search found the patient
        accept = client.post(
            reverse("referral_action", args=[draft.uuid, "accept"]),
            {"accept-radiologist": radiologist.pk, "expected_status": "submitted"},
        )
        assert accept.status_code == 302
        client.force_login(radiologist)
        packet = draft.packets.get()
        download = client.get(reverse("packet_download", args=[draft.uuid, packet.uuid]))
        assert download.status_code == 200
        b"".join(download.streaming_content)
        client.get(reverse("referral_detail", args=["00000000-0000-0000-0000-000000000000"]))
        wait_for(
            lambda: not draft.notifications.exclude(status="sent").exists(),
            timeout=60,
            what="every email sent",
        )

    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert len(lines) > 10, text
    for secret in (GIVEN, FAMILY, PHONE, STREET, draft.medicare_number):
        assert secret.lower() not in text.lower(), f"{secret!r} is in the logs"
        assert secret.lower() not in caplog.text.lower()
    assert all({"time", "level", "logger", "message", "request_id"} <= set(x) for x in lines)
    # The worker's lines for the packet the submission queued carry the submission's id.
    carried = [x for x in lines if x["request_id"] == "journey-submit-01"]
    assert any("referrals.render_packet" in x["message"] for x in carried), carried
    # Django's own line for the refused search has the request's id.
    assert any(x["logger"] == "django.request" for x in lines if x["request_id"] == "refused-01")
