"""Referrals received as HL7 v2.4 REF^I12 messages (HL7AU simplified REF profile): Level 1 and
Level 2, each identifier, a duplicate, a correction, and each refusal, with the ACK parsed back
by the hl7 library."""

import hl7
import pytest

from referrals.hl7.receive import receive
from referrals.models import Attachment, ExternalReferrer, InboundMessage, Packet, Referral
from tests.factories import ReferrerProfileFactory, UserFactory
from tests.hl7_messages import GP_PROVIDER, IHI, message

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(private_media):
    return private_media


def ack_of(outcome):
    parsed = hl7.parse(outcome.ack)
    msa = parsed.segment("MSA")
    errors = [str(err(1)) for err in parsed.segments("ERR")] if "\rERR|" in outcome.ack else []
    return str(msa(1)), str(msa(2)), errors


def stored_files(root):
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_level_1_referral_becomes_a_submitted_referral_from_secure_messaging():
    outcome = receive(message(control="L1-0001"))
    code, control, errors = ack_of(outcome)
    assert (code, control, errors) == ("AA", "L1-0001", [])
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.SUBMITTED and referral.by_secure_message
    assert (referral.patient_family_name, referral.patient_given_name) == ("Citizen", "Margaret")
    assert referral.patient_dob.isoformat() == "1941-03-15"
    assert referral.patient_sex == "female"
    assert (referral.ihi, referral.medicare_number, referral.medicare_irn) == (
        IHI,
        "5877893251",
        1,
    )
    assert (referral.address_line, referral.suburb, referral.state, referral.postcode) == (
        "3 Banksia Avenue",
        "Leura",
        "NSW",
        "2780",
    )
    assert referral.patient_phone == "0247801234"
    assert referral.allergies == "Penicillin (Rash)"
    assert referral.current_analgesia == "Paracetamol 1 g qid\nOxycodone 5 mg prn"
    assert referral.priority == "routine"
    assert "vertebroplasty opinion" in referral.referral_reason
    assert referral.eligibility_outcome == "incomplete"
    # The letter: the PDF display segment, stored as clinical notes after the upload checks.
    letter = referral.attachments.get()
    assert (letter.kind, letter.content_type, letter.pages) == (
        "clinical_notes",
        "application/pdf",
        2,
    )
    assert letter.file.read().startswith(b"%PDF-")
    # From a doctor without an account: held for them, an external referrer record made.
    doctor = ExternalReferrer.objects.get()
    assert doctor.provider_number == GP_PROVIDER and doctor.user is None
    assert (doctor.practice, doctor.email) == ("Morgan Family Clinic", "alex.gp@clinic.example")
    assert referral.external_referrer == doctor and not referral.referrer.is_active
    assert Packet.objects.filter(referral=referral, version=1).exists()
    row = InboundMessage.objects.get()
    assert (row.status, row.referral, row.control_id) == ("accepted", referral, "L1-0001")


def test_a_level_2_referral_files_each_attachment_as_a_document_of_its_kind():
    outcome = receive(message(control="L2-0001", level2=True))
    assert outcome.code == "AA", outcome.ack
    kinds = sorted(Attachment.objects.values_list("kind", "content_type").order_by("kind"))
    assert kinds == [
        ("clinical_notes", "application/pdf"),
        ("imaging", "image/jpeg"),
        ("imaging_report", "application/pdf"),
    ]


def test_a_referrer_with_an_account_gets_the_referral_under_my_referrals():
    gp = UserFactory(email="alex.gp@clinic.example")
    ReferrerProfileFactory(user=gp, provider_number=GP_PROVIDER)
    outcome = receive(message(control="ACC-1"))
    assert outcome.code == "AA"
    assert Referral.objects.get().referrer == gp
    assert ExternalReferrer.objects.get().user == gp


@pytest.mark.parametrize(
    ("pid3", "expected"),
    [
        (f"{IHI}^^^AUSHIC^NI", {"ihi": IHI, "medicare_number": ""}),
        ("5877893251^^^AUSHIC^MC", {"ihi": "", "medicare_number": "5877893251"}),
        ("58778932512^^^AUSHIC^MC", {"medicare_irn": 2}),
    ],
)
def test_each_patient_identifier_alone_is_enough(pid3, expected):
    assert receive(message(control=f"ID-{pid3[:12]}", pid3=pid3)).code == "AA"
    referral = Referral.objects.get()
    for name, value in expected.items():
        assert getattr(referral, name) == value


def test_the_same_message_twice_changes_nothing_and_gets_the_same_ack():
    raw = message(control="DUP-1")
    first, second = receive(raw), receive(raw)
    assert first.ack == second.ack and second.duplicate
    assert Referral.objects.count() == 1 and InboundMessage.objects.count() == 1
    assert Attachment.objects.count() == 1


def test_another_message_with_a_used_control_id_is_refused():
    receive(message(control="DUP-2"))
    outcome = receive(message(control="DUP-2", originating="REF-OTHER", family="Other"))
    code, _control, errors = ack_of(outcome)
    assert code == "AR" and errors[0].startswith("MSH^1^10^205")
    assert Referral.objects.count() == 1


def test_a_correction_makes_a_new_version_of_the_same_referral():
    receive(message(control="COR-1", originating="REF-77"))
    referral = Referral.objects.get()
    first_letter = referral.attachments.get()
    outcome = receive(
        message(control="COR-2", originating="REF-77", status="C", status_text="Correction",
                family="Citizen-Smith", pdf=None)
    )  # fmt: skip
    assert outcome.code == "AA", outcome.ack
    assert Referral.objects.count() == 1
    referral.refresh_from_db()
    assert referral.patient_family_name == "Citizen-Smith"
    first_letter.refresh_from_db()
    assert first_letter.replaced_by is not None  # the new letter; the old kept in the history
    assert list(referral.packets.values_list("version", flat=True).order_by("version")) == [1, 2]


def test_the_same_referral_sent_again_without_correction_status_is_refused():
    receive(message(control="AGAIN-1", originating="REF-88"))
    outcome = receive(message(control="AGAIN-2", originating="REF-88"))
    code, _c, errors = ack_of(outcome)
    assert code == "AE" and errors[0].startswith("RF1^1^6^205")
    assert Referral.objects.count() == 1


def test_a_correction_of_an_unknown_referral_is_refused():
    outcome = receive(message(control="COR-X", originating="NEVER", status="C"))
    assert ack_of(outcome)[0] == "AE"
    assert not Referral.objects.exists()


REFUSALS = {
    "bad IHI": (dict(pid3="8003603930955978^^^AUSHIC^NI"), "AE", "PID^1^3^102"),
    "bad Medicare": (dict(pid3="5877893351^^^AUSHIC^MC"), "AE", "PID^1^3^102"),
    "no identifier": (dict(pid3="4471^^^Clinic^MR"), "AE", "PID^1^3^101"),
    "bad provider number": (dict(gp="2758922X"), "AE", "PRD^1^7^102"),
    "missing PID": (dict(segments_out=("PID",)), "AE", "PID^1^0^100"),
    "no display segment": (dict(segments_out=("OBX",)), "AE", "OBX^1^0^101"),
    "not for this practice": (dict(ir="0754004K"), "AR", "PRD^1^7^204"),
    "a web page as the letter": (dict(pdf=b"<html><script>alert(1)</script></html>"), "AE",
                                 "OBX^2^5^102"),
    "a damaged PDF": (dict(pdf=b"%PDF-1.4\nnot really\n%%EOF\n"), "AE", "OBX^2^5^102"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS)
def test_each_refusal_names_the_segment_and_field_and_stores_nothing(case, private_media):
    kwargs, expected_code, location = REFUSALS[case]
    outcome = receive(message(control=f"BAD-{len(case)}", **kwargs))
    code, _control, errors = ack_of(outcome)
    assert code == expected_code, outcome.ack
    assert any(e.startswith(location) for e in errors), errors
    assert not Referral.objects.exists() and not Attachment.objects.exists()
    assert stored_files(private_media) == []
    # A record of the refusal, without a patient detail.
    row = InboundMessage.objects.get()
    assert row.referral is None and row.status in ("error", "rejected")
    assert "Citizen" not in row.ack + " ".join(row.errors)


def test_a_message_over_the_size_limit_is_refused_unread(settings, private_media):
    settings.HL7_MAX_MESSAGE_BYTES = 2048
    raw = message(control="BIG-1")
    outcome = receive(raw)
    code, _c, errors = ack_of(outcome)
    assert code == "AR" and "limit is 2,048 bytes" in outcome.ack
    assert not Referral.objects.exists() and not InboundMessage.objects.exists()
    assert stored_files(private_media) == []


def test_what_is_not_hl7_gets_a_reject_ack_not_an_exception():
    outcome = receive(b"hello, this is not a referral")
    assert ack_of(outcome)[0] == "AR"
    outcome = receive(b"MSH|^~\\&|X|Y|||20261201||ADT^A01|C1|P|2.4\rPID|1\r")
    code, _c, errors = ack_of(outcome)
    assert code == "AR" and errors[0].startswith("MSH^1^9^200")


def test_a_batch_is_shared_out_with_each_referrals_messages_in_one_part_in_order():
    from referrals.hl7.batch import plan, routing_key

    block = [message(control=f"P-{n}", originating=f"P-REF-{n % 5}") for n in range(40)]
    block.append(b"not a message")
    parts = plan(block, 0, 3)
    assert sorted(i for part in parts for i, _ in part) == list(range(41))
    assert len(parts) > 1  # shared out
    for part in parts:
        assert [i for i, _ in part] == sorted(i for i, _ in part)  # in the block's order
    where = {i: k for k, part in enumerate(parts) for i, _ in part}
    for n in range(40):  # one referral (RF1-6) → one part
        assert where[n] == where[n % 5]
    assert routing_key(block[0], 0) == routing_key(block[5], 5) != routing_key(block[1], 1)
    assert routing_key(b"not a message", 40) == "raw|40"
