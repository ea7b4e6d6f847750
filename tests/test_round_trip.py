"""Requests for information, the round trip through HTTP: staff ask for items (a criterion, any
document kind), the referrer answers each on its own and sends the answer, it returns to where
it was asked from and to whoever asked, marked answered until the practice acts."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from referrals import workflow
from referrals.models import InfoRequest, Notification, Referral, Site
from referrals.packets.build import build_packet
from tests.factories import make_referral
from tests.files import pdf_bytes

S = Referral.Status


def act(client, referral, action, data=None):
    prefix = {"request_info": "info"}.get(action, action)
    payload = {f"{prefix}-{k}": v for k, v in (data or {}).items()}
    payload["expected_status"] = Referral.objects.get(pk=referral.pk).status
    return client.post(reverse("referral_action", args=[referral.uuid, action]), payload)


def answer_item(client, referral, index, data):
    return client.post(reverse("referral_answer_item", args=[referral.uuid, index]), data)


def upload_item(client, referral, index, name="mri-report.pdf"):
    return answer_item(
        client, referral, index,
        {f"item{index}-kind": "ignored", f"item{index}-file": SimpleUploadedFile(
            name, pdf_bytes(pages=1), "application/pdf")},
    )  # fmt: skip


def send_answer(client, referral, note=""):
    return client.post(reverse("referral_answer", args=[referral.uuid]), {"answer": note})


def status_of(referral):
    return Referral.objects.get(pk=referral.pk).status


@pytest.fixture
def unknown_coag(referrer, private_media):
    """A sent referral with an MRI study listed (so "Relevant imaging" would count as met by
    images alone) and its coagulopathy not known."""
    return make_referral(referrer, status="submitted", coagulopathy="")


def test_staff_may_ask_for_a_criterion_and_the_imaging_report_as_its_own_item(
    client, admin_user, unknown_coag
):
    client.force_login(admin_user)
    page = client.get(reverse("referral_detail", args=[unknown_coag.uuid])).content.decode()
    assert 'value="criterion:coagulopathy"' in page
    assert 'value="document:imaging_report"' in page
    assert 'value="document:imaging"' in page  # any kind, even one already met


def test_the_whole_round_trip_with_an_admin(client, admin_user, referrer, unknown_coag):
    client.force_login(admin_user)
    response = act(client, unknown_coag, "request_info",
                   {"items": ["criterion:coagulopathy", "document:imaging_report"],
                    "note": "Please send the formal MRI report."})  # fmt: skip
    assert response.status_code == 302
    request = InfoRequest.objects.get(referral=unknown_coag)
    assert request.return_to == S.SUBMITTED
    assert [i["id"] for i in request.items] == ["coagulopathy", "imaging_report"]

    client.force_login(referrer)
    page = client.get(reverse("referral_detail", args=[unknown_coag.uuid])).content.decode()
    # Each item with its own form: the criterion's one field, the document's upload.
    assert 'name="item0-coagulopathy"' in page and 'name="item1-file"' in page
    assert 'name="item0-infection"' not in page and 'name="item0-levels"' not in page
    assert 'name="item0-pain_score"' not in page

    # A value the field does not take: shown next to the field, nothing saved.
    bad = answer_item(client, unknown_coag, 0, {"item0-coagulopathy": "sometimes"})
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()
    assert Referral.objects.get(pk=unknown_coag.pk).coagulopathy == ""

    good = answer_item(client, unknown_coag, 0, {"item0-coagulopathy": "none"})
    assert good.status_code == 302
    saved = Referral.objects.get(pk=unknown_coag.pk)
    assert saved.coagulopathy == "none"
    # Only that fact: the others are as they were.
    assert (saved.levels, saved.pain_score, saved.healed_fracture) == (["L1"], 8, False)
    # Eligibility run again: the criterion is no longer unknown.
    coag = next(c for c in saved.eligibility["criteria"] if c["id"] == "coagulopathy")
    assert coag["status"] == "pass"

    assert upload_item(client, unknown_coag, 1).status_code == 302
    added = saved.attachments.get()
    assert (added.kind, added.original_name) == ("imaging_report", "mri-report.pdf")

    Notification.objects.all().delete()
    assert send_answer(client, unknown_coag, "Coagulation normal.").status_code == 302
    referral = Referral.objects.get(pk=unknown_coag.pk)
    assert referral.status == S.SUBMITTED
    assert referral.answered_at is not None
    recipients = set(Notification.objects.values_list("recipient", "event"))
    assert recipients == {(admin_user.email, "answered")}

    # Visibly answered: the queue row and the referral page, the new document marked.
    client.force_login(admin_user)
    queue = client.get(reverse("triage_queue")).content.decode()
    assert "Answered: needs review" in queue
    page = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    assert "Answered: needs review" in page
    assert 'data-new="yes"' in page
    assert "Requests and answers" in page and "Coagulation normal." in page

    # The practice acts: the mark goes.
    act(client, referral, "decline", {"reason": "other", "note": "Seen."})
    assert Referral.objects.get(pk=referral.pk).answered_at is None


def test_nothing_answered_is_refused_and_the_request_stays_open(client, admin_user, referrer,
                                                                unknown_coag):  # fmt: skip
    client.force_login(admin_user)
    act(client, unknown_coag, "request_info", {"items": ["criterion:coagulopathy"]})
    client.force_login(referrer)
    response = send_answer(client, unknown_coag)
    assert response.status_code == 400
    assert "Answer an item, add a document or write a note" in response.content.decode()
    assert status_of(unknown_coag) == S.INFO_REQUESTED


def test_the_answer_to_an_ir_goes_back_to_that_ir_without_triage(
    client, admin_user, radiologist, referrer, unknown_coag
):
    client.force_login(admin_user)
    act(client, unknown_coag, "accept", {"radiologist": radiologist.pk})
    client.force_login(radiologist)
    assert act(client, unknown_coag, "request_info",
               {"items": ["criterion:coagulopathy"]}).status_code == 302  # fmt: skip
    assert InfoRequest.objects.get().return_to == S.ACCEPTED
    # The IR still sees it in their reviews while the referrer answers.
    reviews = client.get(reverse("review_list")).content.decode()
    assert unknown_coag.reference in reviews

    client.force_login(referrer)
    answer_item(client, unknown_coag, 0, {"item0-coagulopathy": "corrected"})
    Notification.objects.all().delete()
    send_answer(client, unknown_coag)

    referral = Referral.objects.get(pk=unknown_coag.pk)
    assert (referral.status, referral.assigned_radiologist) == (S.ACCEPTED, radiologist)
    assert set(Notification.objects.values_list("recipient", "event")) == {
        (radiologist.email, "answered_to_ir")
    }
    client.force_login(radiologist)
    reviews = client.get(reverse("review_list")).content.decode()
    assert "Answered: needs review" in reviews
    # The IR decides straight away: no admin has to accept it again.
    assert act(client, referral, "approve").status_code == 302
    assert status_of(referral) == S.APPROVED


def test_an_ir_may_ask_after_approving_and_it_returns_to_approved(
    client, admin_user, radiologist, referrer, unknown_coag
):
    client.force_login(admin_user)
    act(client, unknown_coag, "accept", {"radiologist": radiologist.pk})
    client.force_login(radiologist)
    act(client, unknown_coag, "approve")
    page = client.get(reverse("referral_detail", args=[unknown_coag.uuid])).content.decode()
    assert "Ask the referrer for more information" in page
    act(client, unknown_coag, "request_info", {"note": "The anticoagulant plan, please."})
    assert status_of(unknown_coag) == S.INFO_REQUESTED

    client.force_login(referrer)
    send_answer(client, unknown_coag, "Apixaban stopped two days before.")
    assert status_of(unknown_coag) == S.APPROVED


def test_an_admin_may_ask_after_booking_and_the_booking_is_kept(
    client, admin_user, radiologist, referrer, unknown_coag
):
    site = Site.objects.create(name="Example Private Hospital")
    workflow.referral_accept(referral=unknown_coag, by=admin_user, radiologist=radiologist)
    workflow.referral_approve(referral=unknown_coag, by=radiologist)
    start = timezone.now() + datetime.timedelta(days=10)
    workflow.referral_book(referral=unknown_coag, by=admin_user, start=start, site=site)

    client.force_login(admin_user)
    items = {"items": ["document:pathology"], "note": "A coagulation profile."}
    response = act(client, unknown_coag, "request_info", items)
    assert response.status_code == 302
    assert InfoRequest.objects.get().return_to == S.BOOKED

    client.force_login(referrer)
    assert upload_item(client, unknown_coag, 0, "coags.pdf").status_code == 302
    send_answer(client, unknown_coag)
    referral = Referral.objects.get(pk=unknown_coag.pk)
    assert (referral.status, referral.booking_site, referral.booked_start) == (
        S.BOOKED, site, start,
    )  # fmt: skip
    # No transition follows a booked referral's answer: the admin marks it reviewed.
    assert referral.answered_at is not None
    client.force_login(admin_user)
    assert client.post(reverse("answer_reviewed", args=[referral.uuid])).status_code == 302
    assert Referral.objects.get(pk=referral.pk).answered_at is None
    client.force_login(referrer)
    assert client.post(reverse("answer_reviewed", args=[referral.uuid])).status_code == 404


def test_another_referrer_cannot_answer_an_item(client, admin_user, other_referrer, unknown_coag):
    client.force_login(admin_user)
    act(client, unknown_coag, "request_info", {"items": ["criterion:coagulopathy"]})
    client.force_login(other_referrer)
    response = answer_item(client, unknown_coag, 0, {"item0-coagulopathy": "none"})
    assert response.status_code == 404
    assert Referral.objects.get(pk=unknown_coag.pk).coagulopathy == ""


def test_the_next_packet_has_the_requests_and_answers(
    client, admin_user, referrer, unknown_coag, tmp_path
):
    client.force_login(admin_user)
    act(client, unknown_coag, "request_info", {"items": ["document:imaging_report"],
                                               "note": "The formal MRI report."})  # fmt: skip
    client.force_login(referrer)
    upload_item(client, unknown_coag, 0, "mri-report.pdf")
    send_answer(client, unknown_coag, "Report attached.")

    referral = Referral.objects.get(pk=unknown_coag.pk)
    build_packet(referral, tmp_path / "packet.pdf", version=2)
    reader = PdfReader(tmp_path / "packet.pdf")
    text = " ".join("\n".join(p.extract_text() or "" for p in reader.pages[:3]).split())
    assert "Requests and answers" in text
    assert "The formal MRI report." in text and "Report attached." in text
    assert "Imaging report: mri-report.pdf" in text
