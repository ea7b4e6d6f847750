"""In Chromium (issue 14, item 1): choosing a file gives it a token of the browser's own, and the
upload form sent twice at once (a double click the button's disabling did not stop) stores one
document."""

import re
import uuid

import pytest

from referrals.models import Attachment
from tests.conftest import assert_accessible, screenshot, sign_in
from tests.factories import make_referral
from tests.files import pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_upload_sent_twice_at_once_stores_one_document(page, referrer, private_media, tmp_path):
    referral = make_referral(referrer)
    sign_in(page, referrer.email)
    page.wait_for_url("**/referrals/")
    page.goto(f"/referrals/{referral.uuid}/edit/documents/")
    token = page.locator("input.upload-token")
    from_server = token.input_value()
    notes = tmp_path / "letter.pdf"
    notes.write_bytes(pdf_bytes(pages=2))
    page.get_by_label("What is it?").select_option("clinical_notes")
    page.get_by_label("File").set_input_files(str(notes))
    # The file's own token, made by the browser when it was chosen, sent with its request.
    chosen = page.locator("li.upload-item").first.get_attribute("data-token")
    assert re.fullmatch(r"[0-9a-f-]{36}", chosen) and chosen != from_server  # the browser's
    # Two submissions at once, as a double click: each sends the file (an XMLHttpRequest).
    page.evaluate(
        "() => { const f = document.querySelector('form.upload-form');"
        " f.requestSubmit(); f.dispatchEvent(new Event('submit', {bubbles: true,"
        " cancelable: true})); }"
    )
    page.wait_for_selector("text=Added “letter.pdf”", timeout=30_000)
    page.wait_for_timeout(1000)  # let the second answer land too
    rows = list(Attachment.objects.filter(referral=referral))
    assert len(rows) == 1 and rows[0].upload_token == uuid.UUID(chosen)
    stored = [p for p in (private_media / "attachments").rglob("*") if p.is_file()]
    assert len(stored) == 1
    screenshot(page, "upload-sent-twice")
    assert_accessible(page)
