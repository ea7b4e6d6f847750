"""In Chromium: a referring doctor fills in a referral, watches the criteria panel, uploads
documents with a progress bar, submits, and finds it on the dashboard."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from referrals.models import Referral
from tests.conftest import assert_accessible, screenshot, sign_in
from tests.factories import make_medicare_number
from tests.files import image_bytes, noisy_pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def panel_outcome(page) -> str:
    return page.locator("#eligibility-panel .badge").first.inner_text()


def test_a_referrer_completes_and_submits_a_referral(page, referrer, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    today = timezone.localdate()
    sign_in(page, referrer.email)
    page.wait_for_url("**/referrals/")
    assert_accessible(page)
    page.get_by_role("button", name="Start a new referral").click()

    # Patient
    page.wait_for_url("**/edit/patient/")
    page.get_by_label("Given name").fill("Joan")
    page.get_by_label("Family name").fill("Sample")
    page.get_by_label("Date of birth").fill("1944-03-09")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Medicare card number").fill(make_medicare_number()[:9] + "1")
    page.get_by_label("Reference number (IRN)").select_option("2")
    page.get_by_label("Phone").fill("0400 000 000")
    page.get_by_label("Street address").fill("2 Example Road")
    page.get_by_label("Suburb or town").fill("Carlton")
    page.get_by_label("State").select_option("VIC")
    page.get_by_label("Postcode").fill("3053")
    page.get_by_label("The patient consents").check()
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved")
    screenshot(page, "intake-patient")
    assert_accessible(page)
    page.get_by_role("button", name="Save and continue").click()

    # Clinical: the panel moves as the doctor types, without a page load.
    page.wait_for_url("**/edit/clinical/")
    assert panel_outcome(page) == "Not enough information yet"
    page.get_by_label("L1", exact=True).check()
    page.get_by_label("Osteoporotic").check()
    page.get_by_label("Pain score now").select_option("8")
    onset = today - datetime.timedelta(days=5)
    page.get_by_label("Date the pain began").fill(onset.isoformat())
    page.get_by_label("Poorly controlled despite opiates").check()
    page.locator("#id_coagulopathy_1").check()  # none
    page.locator("#id_infection_1").check()  # none
    page.locator("#id_canal_compromise_2").check()  # no
    page.locator("#id_healed_fracture_2").check()  # no
    page.locator("#id_anticoagulation_reviewed_1").check()  # yes
    page.wait_for_selector(
        '#eligibility-panel [data-criterion="pain_severity"][data-status="pass"]'
    )
    closes = (onset + datetime.timedelta(days=21)).strftime("%-d %B %Y")
    assert f"Window closes on {closes} (16 days)" in page.locator("#eligibility-panel").inner_text()
    assert panel_outcome(page) == "Not enough information yet"  # no imaging yet
    screenshot(page, "intake-clinical")
    assert_accessible(page)
    page.get_by_role("button", name="Save and continue").click()

    # Imaging: an acute MRI completes the criteria.
    page.wait_for_url("**/edit/imaging/")
    page.locator("#id_imaging-0-modality").select_option("MRI")
    page.locator("#id_imaging-0-performed_on").fill(
        (today - datetime.timedelta(days=2)).isoformat()
    )
    page.locator("#id_imaging-0-acute_fracture_1").check()  # yes
    expect(page.locator("#eligibility-panel .badge").first).to_contain_text("Meets")
    page.locator("#id_imaging-0-location").fill("Example Imaging")
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved")
    screenshot(page, "intake-imaging")
    assert_accessible(page)
    page.get_by_role("button", name="Save and continue").click()

    # Documents, with upload progress on a throttled connection.
    page.wait_for_url("**/edit/documents/")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 400_000},
    )
    notes = tmp_path / "gp-notes.pdf"
    notes.write_bytes(noisy_pdf_bytes())
    page.get_by_label("What is it?").select_option("clinical_notes")
    page.get_by_label("File").set_input_files(str(notes))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector(".upload-status:not([hidden])")
    # The bar moves while the bytes go (throttled above); the page's own script drives it.
    expect(page.locator("progress")).not_to_have_attribute("value", "0")
    page.wait_for_selector("text=Added “gp-notes.pdf”", timeout=30_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    photo = tmp_path / "spine.jpg"
    photo.write_bytes(image_bytes("JPEG", size=(320, 240)))
    page.get_by_label("What is it?").select_option("imaging")
    page.get_by_label("File").set_input_files(str(photo))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector("text=Added “spine.jpg”")
    # A refused file says what is accepted, and nothing is added.
    fake = tmp_path / "notes.pdf"
    fake.write_text("this is not a PDF")
    page.get_by_label("What is it?").select_option("pathology")
    page.get_by_label("File").set_input_files(str(fake))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector("text=We accept PDF, JPEG, PNG or DICOM")
    screenshot(page, "intake-documents")
    assert_accessible(page)
    page.get_by_role("link", name="Continue to review").click()

    # Review and submit.
    page.wait_for_url("**/edit/review/")
    screenshot(page, "intake-review")
    assert_accessible(page)
    page.get_by_role("button", name="Send referral to the practice").click()
    page.wait_for_selector("#referral-status")
    assert page.locator("#referral-status").inner_text() == "Submitted"
    screenshot(page, "referral-detail")
    assert_accessible(page)
    referral = Referral.objects.get(referrer=referrer)
    assert referral.status == "submitted" and referral.eligibility_outcome == "eligible"
    # However often autosave ran, the one study typed is one row.
    assert [s.location for s in referral.imaging.all()] == ["Example Imaging"]
    assert sorted(a.original_name for a in referral.attachments.all()) == [
        "gp-notes.pdf",
        "spine.jpg",
    ]

    page.get_by_role("link", name="My referrals").click()
    row = page.get_by_role("row", name=referral.reference)
    assert "Submitted" in row.inner_text() and "Meets the criteria" in row.inner_text()
    screenshot(page, "dashboard")


def test_typed_values_survive_a_reload(page, referrer):
    sign_in(page, referrer.email)
    page.get_by_role("button", name="Start a new referral").click()
    page.wait_for_url("**/edit/patient/")
    page.get_by_label("Given name").fill("Dorothy")
    page.get_by_label("Medicare card number").fill("2950123450")  # wrong check digit
    page.get_by_label("Postcode").fill("3053")
    expect(page.locator("#autosave-status")).to_contain_text("Draft kept")
    page.reload()
    assert page.get_by_label("Given name").input_value() == "Dorothy"
    assert page.get_by_label("Medicare card number").input_value() == "2950123450"
    assert page.get_by_role("alert").inner_text().count("check digit") == 1
    screenshot(page, "intake-patient-error")
    assert_accessible(page)


def test_the_sign_up_page_is_accessible_and_refuses_a_bad_provider_number(page):
    page.goto("/accounts/signup/")
    page.get_by_label("Given name").fill("Riley")
    page.get_by_label("Medicare provider number").fill("2123456A")
    page.get_by_role("button", name="Ask for an account").click()
    assert "check character" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Given name").input_value() == "Riley"
    screenshot(page, "signup")
    assert_accessible(page)


def test_a_request_for_information_is_answered_in_the_browser(page, referrer, admin_user):
    from referrals import workflow
    from tests.factories import make_referral

    referral = make_referral(referrer, status="submitted")
    items = [{"kind": "document", "id": "pathology", "label": "Recent pathology"}]
    workflow.referral_request_info(
        referral=referral, by=admin_user, items=items, note="Please add the latest bloods."
    )
    sign_in(page, referrer.email)
    page.goto(f"/referrals/{referral.uuid}/")
    request_box = page.get_by_role("region", name="The practice asks for more information")
    assert "Recent pathology" in request_box.inner_text()
    assert "Please add the latest bloods." in request_box.inner_text()
    screenshot(page, "info-request")
    assert_accessible(page)
    page.get_by_label("Note to the practice (optional)").fill("Bloods normal on Friday; INR 1.0.")
    page.get_by_role("button", name="Send answer to the practice").click()
    page.wait_for_selector("text=Your answer has been sent")
    assert page.locator("#referral-status").inner_text() == "Submitted"
