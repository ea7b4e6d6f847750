"""Letters back to the referrer's clinical software: one per decision, only for referrals that
came by secure message, rendered as a PDF with the patient on every page, carried as the PDF
display segment of a REF^I12 that is parsed back with the hl7 library, written to the outbox
folder or sent by MLLP to a real socket, with the ACK recorded."""

import base64
import io
import socketserver
import threading
from datetime import timedelta

import hl7
import pytest
from django.utils import timezone
from pypdf import PdfReader

from portal.models import PracticeProfile
from referrals import outbox
from referrals.hl7.letters import LETTERS, letter_send
from referrals.hl7.protocol import END, SB, frame
from referrals.hl7.receive import receive
from referrals.models import Letter, Referral, Site
from referrals.workflow import (
    referral_accept,
    referral_approve,
    referral_book,
    referral_complete,
    referral_decline,
    referral_request_info,
)
from tests.factories import make_referral
from tests.hl7_messages import GP_PROVIDER, message

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox_dir(settings, tmp_path, private_media):
    settings.HL7_OUTBOX_DIR = tmp_path / "outbox"
    settings.HL7_SEND_HOST, settings.HL7_SEND_PORT = "", 0
    return settings.HL7_OUTBOX_DIR


@pytest.fixture
def hl7_referral(outbox_dir):
    outcome = receive(message(control="LET-1", originating="GP-REF-9"))
    assert outcome.code == "AA", outcome.ack
    return Referral.objects.get()


def send(letter: Letter) -> Letter:
    assert outbox.run(LETTERS, letter.pk, letter_send)
    letter.refresh_from_db()
    return letter


def parsed_letter(path) -> tuple[hl7.Message, PdfReader]:
    text = path.read_bytes().decode("utf-8")
    parsed = hl7.parse(text)
    obx = parsed.segment("OBX")
    assert str(obx(2)) == "ED"
    assert [str(obx(5)(1)(c)) for c in (2, 3, 4)] == ["application", "pdf", "Base64"]
    pdf = PdfReader(io.BytesIO(base64.b64decode(str(obx(5)(1)(5)))))
    return parsed, pdf


def test_receipt_writes_a_letter_to_the_outbox_folder_that_parses_back(hl7_referral, outbox_dir):
    letter = Letter.objects.get(referral=hl7_referral)
    assert (letter.event, letter.status, letter.provider_number) == (
        "submitted",
        "queued",
        GP_PROVIDER,
    )
    letter = send(letter)
    assert letter.status == "sent" and letter.ack_status == "written" and letter.sent_at
    [path] = list(outbox_dir.glob("*.hl7"))
    parsed, pdf = parsed_letter(path)
    msh = parsed.segment("MSH")
    assert str(msh(9)) == "REF^I12^REF_I12" and str(msh(10)) == letter.control_id
    recipient = [p for p in parsed.segments("PRD") if str(p(1)(1)(1)) == "IR"][0]
    assert str(recipient(7)(1)(1)) == GP_PROVIDER and str(recipient(7)(1)(2)) == "AUSHICPR"
    pid = parsed.segment("PID")
    assert str(pid(5)(1)(1)) == "Citizen" and str(pid(7)) == "19410315"
    assert str(parsed.segment("RF1")(11)) == "GP-REF-9^Morgan Family Clinic"
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "Referral received" in text and PracticeProfile.load().name in text
    assert letter.file.read().startswith(b"%PDF-")


def test_every_page_carries_the_patient_and_the_reference(hl7_referral, admin_user):
    referral_request_info(
        referral=hl7_referral, by=admin_user, note="Please send the MRI report. " * 200,
        items=[{"kind": "document", "id": "imaging", "label": "Relevant imaging"}],
    )  # fmt: skip
    letter = send(Letter.objects.get(referral=hl7_referral, event="info_requested"))
    pdf = PdfReader(letter.file.open("rb"))
    assert len(pdf.pages) >= 2
    for page in pdf.pages:
        text = page.extract_text()
        assert "Margaret Citizen" in text and "15/03/1941" in text
        assert hl7_referral.reference in text
    assert "Relevant imaging" in pdf.pages[0].extract_text()


def test_each_decision_the_referrer_should_hear_of_gets_a_letter(
    hl7_referral, admin_user, radiologist
):
    referral_accept(referral=hl7_referral, by=admin_user, radiologist=radiologist)
    referral_approve(referral=hl7_referral, by=radiologist)
    site = Site.objects.create(name="Blue Mountains Hospital")
    referral_book(referral=hl7_referral, by=admin_user, start=timezone.now() + timedelta(days=3),
                  site=site)  # fmt: skip
    referral_complete(referral=hl7_referral, by=admin_user, note="Cement at L1, no leak.")
    events = list(Letter.objects.filter(referral=hl7_referral).values_list("event", flat=True))
    assert events == ["submitted", "accepted", "booked", "completed"]
    completed = send(Letter.objects.get(referral=hl7_referral, event="completed"))
    assert "Cement at L1" in PdfReader(completed.file.open("rb")).pages[0].extract_text()


def test_a_decline_letter_gives_the_advice(hl7_referral, admin_user):
    referral_decline(referral=hl7_referral, by=admin_user, reason="pain_under_7")
    letter = send(Letter.objects.get(referral=hl7_referral, event="declined"))
    text = PdfReader(letter.file.open("rb")).pages[0].extract_text()
    assert "Pain under 7/10" in text and "physiotherapy" in text


def test_a_web_referral_gets_no_letter(referrer, admin_user, radiologist, outbox_dir):
    referral = make_referral(referrer, status=Referral.Status.SUBMITTED)
    referral_accept(referral=referral, by=admin_user, radiologist=radiologist)
    assert not Letter.objects.exists()


class AckServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def mllp_receiver(code: str):
    received = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            data = b""
            while not data.endswith(END):
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                data += chunk
            inbound = hl7.parse(data.strip(SB + END).decode())
            received.append(inbound)
            ack = inbound.create_ack(ack_code=code)
            if code != "AA":
                ack.append(ack.create_segment([ack.create_field(["ERR"]),
                                               ack.create_field(["PRD^2^7^204"])]))  # fmt: skip
            self.request.sendall(frame(str(ack)))

    server = AckServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


@pytest.mark.parametrize("code", ["AA", "AR"])
def test_a_letter_sent_by_mllp_records_the_ack(hl7_referral, settings, code):
    server, received = mllp_receiver(code)
    try:
        settings.HL7_SEND_HOST, settings.HL7_SEND_PORT = "127.0.0.1", server.server_address[1]
        letter = send(Letter.objects.get(referral=hl7_referral))
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 1 and str(received[0].segment("MSH")(10)) == letter.control_id
    assert letter.ack_status == code
    assert letter.rejected is (code != "AA")
    if code == "AR":
        assert "PRD^2^7" in letter.ack_text


def test_a_receiver_that_is_down_is_retried_not_lost(hl7_referral, settings):
    settings.HL7_SEND_HOST, settings.HL7_SEND_PORT = "127.0.0.1", 7299  # nothing listens there
    letter = Letter.objects.get(referral=hl7_referral)
    with pytest.raises(outbox.Retry):
        outbox.run(LETTERS, letter.pk, letter_send)
    letter.refresh_from_db()
    assert letter.status == "sending" and letter.attempts == 1  # the task's retry takes it back
