"""In Chromium (with axe): several documents in one upload, each with its own kind, progress
and accepted/refused line, by choosing and by dragging onto the form; field errors shown beside
the field as the doctor leaves it, named in the autosave note."""

import base64

import pytest
from playwright.sync_api import expect

from referrals.models import Referral
from tests.conftest import assert_accessible, screenshot, sign_in
from tests.factories import make_referral
from tests.files import image_bytes, pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_several_files_in_one_upload_each_with_its_kind_and_its_line(
    page, referrer, private_media, tmp_path
):
    referral = make_referral(referrer)
    notes, photo, fake = tmp_path / "gp-notes.pdf", tmp_path / "spine.jpg", tmp_path / "bad.pdf"
    notes.write_bytes(pdf_bytes(pages=2))
    photo.write_bytes(image_bytes("JPEG", size=(120, 90)))
    fake.write_text("this is not a PDF")
    sign_in(page, referrer.email)
    page.goto(f"/referrals/{referral.uuid}/edit/documents/")

    page.get_by_label("What is it?").select_option("clinical_notes")
    page.get_by_label("File").set_input_files([str(notes), str(photo), str(fake)])
    rows = page.locator(".upload-item")
    expect(rows).to_have_count(3)
    # Each file has its own kind, the form's choice to start with.
    page.get_by_label("What is “spine.jpg”?").select_option("imaging")
    page.get_by_label("What is “bad.pdf”?").select_option("pathology")
    expect(page.locator(".upload-item progress")).to_have_count(3)
    screenshot(page, "documents-several-chosen")
    assert_accessible(page)
    page.get_by_role("button", name="Upload").click()

    expect(rows.nth(2)).to_have_attribute("data-result", "refused", timeout=30_000)
    expect(rows.nth(0)).to_have_attribute("data-result", "accepted")
    expect(rows.nth(1)).to_have_attribute("data-result", "accepted")
    assert "Added “gp-notes.pdf”." in rows.nth(0).inner_text()
    assert "“bad.pdf” was not added" in rows.nth(2).inner_text()
    assert "We accept PDF, JPEG, PNG or DICOM" in rows.nth(2).inner_text()
    # The documents list is refreshed in place, the lines stay.
    expect(page.locator("#documents-list")).to_contain_text("spine.jpg")
    screenshot(page, "documents-several-uploaded")
    assert_accessible(page)
    kinds = dict(Referral.objects.get(pk=referral.pk).attachments.values_list("original_name",
                                                                              "kind"))  # fmt: skip
    assert kinds == {"gp-notes.pdf": "clinical_notes", "spine.jpg": "imaging"}


def test_files_dragged_onto_the_documents_form_are_uploaded(page, referrer, private_media):
    referral = make_referral(referrer)
    sign_in(page, referrer.email)
    page.goto(f"/referrals/{referral.uuid}/edit/documents/")
    page.get_by_label("What is it?").select_option("pathology")
    data = base64.b64encode(pdf_bytes(pages=1)).decode()
    page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "bloods.pdf", {type: "application/pdf"}));
            const form = document.querySelector(".upload-form");
            form.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true}));
            form.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
        }""",
        data,
    )
    expect(page.locator(".upload-item")).to_have_count(1)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".upload-item")).to_have_attribute("data-result", "accepted")
    attachment = Referral.objects.get(pk=referral.pk).attachments.get()
    assert (attachment.original_name, attachment.kind) == ("bloods.pdf", "pathology")


def test_a_refused_upload_without_the_script_survives_a_reload(
    browser, live_server, referrer, private_media, tmp_path
):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    referral = make_referral(referrer)
    fake = tmp_path / "scan.pdf"
    fake.write_text("not a pdf")
    sign_in(page, referrer.email)
    page.goto(f"/referrals/{referral.uuid}/edit/documents/")
    page.get_by_label("What is it?").select_option("imaging_report")
    page.get_by_label("File").set_input_files(str(fake))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/edit/documents/")
    assert "“scan.pdf” was not added" in page.locator("main").inner_text()
    response = page.reload()
    assert response.status == 200  # the documents page again, not a 405 on the POST URL
    context.close()


def test_a_field_error_shows_beside_the_field_as_the_doctor_leaves_it(page, referrer):
    referral = make_referral(referrer, medicare_number="")
    sign_in(page, referrer.email)
    page.goto(f"/referrals/{referral.uuid}/edit/patient/")
    page.get_by_label("Medicare card number").fill("2950123450")  # wrong check digit
    page.get_by_label("Postcode").fill("3999")  # and a postcode kept, for the next save
    page.get_by_label("Phone").focus()  # leaves the field

    status = page.locator("#autosave-status")
    expect(status).to_contain_text("correct Medicare card number")
    medicare = page.get_by_label("Medicare card number")
    expect(medicare).to_have_attribute("aria-invalid", "true")
    error = page.locator("#id_medicare_number-autosave-error")
    expect(error).to_contain_text("check digit")
    assert "id_medicare_number-autosave-error" in medicare.get_attribute("aria-describedby")
    screenshot(page, "intake-field-error-on-leave")
    assert_accessible(page)

    # Corrected: the error goes, the note says saved.
    medicare.fill(referral.medicare_number or "2950123481")
    page.get_by_label("Phone").focus()
    expect(status).to_contain_text("Draft saved")
    expect(page.locator(".autosave-error")).to_have_count(0)
