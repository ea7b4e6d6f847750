"""In Chromium (with axe): the pages a triage admin sees after a referrer answered (the queue's
"Answered: needs review", the referral page's banner, new documents and requests), the actions
after accepting, and the practice's contact details page."""

import pytest

from referrals import attachments, workflow
from referrals.models import Referral
from tests.conftest import assert_accessible, screenshot, sign_in
from tests.factories import make_referral
from tests.files import pdf_bytes
from tests.test_packets import temp_upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_answered_referral_reads_as_answered_to_the_admin(
    page, referrer, admin_user, radiologist, private_media
):
    referral = make_referral(referrer, status="submitted", coagulopathy="")
    items = [{"kind": "document", "id": "imaging_report", "label": "Document: Imaging report"}]
    workflow.referral_request_info(referral=referral, by=admin_user, items=items,
                                   note="The formal MRI report, please.")  # fmt: skip
    referral = Referral.objects.get(pk=referral.pk)
    report = temp_upload("mri-report.pdf", pdf_bytes())
    attachments.attachment_add(
        referral=referral, kind="imaging_report", by=referrer, uploaded_file=report
    )
    workflow.referral_answer_info_request(referral=referral, by=referrer, answer="Attached.")

    sign_in(page, admin_user.email)
    page.wait_for_url("**/triage/")
    row = page.get_by_role("row", name=referral.reference)
    assert "Answered: needs review" in row.inner_text()
    screenshot(page, "queue-answered")
    assert_accessible(page)

    row.get_by_role("link", name=referral.reference).click()
    assert "Answered: needs review" in page.locator("#answered").inner_text()
    assert page.locator("#documents-list [data-new=yes]").count() == 1
    assert "Attached." in page.locator("#requests").inner_text()
    screenshot(page, "referral-answered-staff")
    assert_accessible(page)

    page.get_by_text("Accept and assign an IR").click()
    page.get_by_label("Assign to interventional radiologist").select_option(str(radiologist.pk))
    page.get_by_role("button", name="Accept and assign").click()
    page.wait_for_selector("text=accepted and assigned")
    assert page.locator("#answered").count() == 0  # the practice acted on it
    assert page.get_by_text("Undo the acceptance (back to triage)").is_visible()
    screenshot(page, "referral-accepted-actions")
    assert_accessible(page)

    page.get_by_role("link", name="Practice details").click()
    page.get_by_label("Phone for urgent cases").fill("03 9555 0199")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=contact details are saved")
    screenshot(page, "practice-details")
    assert_accessible(page)
