"""In Chromium: each role signs in and sees its page; axe finds nothing serious."""

import pytest

from tests.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_sign_in_page_is_accessible(page):
    page.goto("/")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    screenshot(page, "login")
    assert_accessible(page)


def test_a_wrong_password_shows_the_message_in_the_browser(page, referrer):
    sign_in(page, referrer.email, "not-the-password")
    assert page.get_by_role("alert").inner_text().startswith("That email address and password")
    assert page.get_by_label("Email address").input_value() == referrer.email
    assert_accessible(page)


@pytest.mark.parametrize(
    ("persona", "heading", "path"),
    [
        ("referrer", "My referrals", "/referrals/"),
        ("admin_user", "Triage queue", "/triage/"),
        ("radiologist", "My reviews", "/reviews/"),
    ],
)
def test_each_role_signs_in_and_sees_its_page(page, request, persona, heading, path):
    user = request.getfixturevalue(persona)
    sign_in(page, user.email)
    page.wait_for_url(f"**{path}")
    assert page.get_by_role("heading", level=1).inner_text() == heading
    assert page.get_by_role("link", name=heading).get_attribute("aria-current") == "page"
    screenshot(page, f"landing-{persona}")
    assert_accessible(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


@pytest.mark.two_factor
def test_an_admin_enrols_an_authenticator_in_the_browser(page, admin_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.test_security import code_for

    sign_in(page, admin_user.email)
    page.wait_for_url("**/accounts/two-factor/setup/**")
    assert page.get_by_role("img", name="QR code").is_visible()
    screenshot(page, "two-factor-setup")
    assert_accessible(page)
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    page.get_by_label("Code").fill(code_for(device))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    assert page.locator("#backup-codes li").count() == 10
    assert_accessible(page)
    page.get_by_role("link", name="I have kept them: continue").click()
    page.wait_for_url("**/triage/")


def test_the_queue_filters_in_the_browser_and_names_a_bad_value(page, admin_user, referrer):
    from tests.factories import make_referral

    kept = make_referral(referrer, status="submitted", patient_family_name="Quill")
    make_referral(referrer, status="submitted", patient_family_name="Other")
    sign_in(page, admin_user.email)
    page.wait_for_url("**/triage/")
    page.get_by_label("Search").fill("quil")
    page.get_by_label("Eligibility").select_option(label="Meets the criteria")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/triage/?*")
    assert page.locator("#queue tbody tr").count() == 1
    assert page.locator("#queue tbody tr").get_attribute("data-reference") == kept.reference
    # What was chosen stays chosen.
    assert page.get_by_label("Search").input_value() == "quil"
    assert page.get_by_label("Eligibility").input_value() == "eligible"
    # A hand-edited address with a value the filter does not know: named, the open queue shown.
    page.goto("/triage/?status=lost")
    assert "Select a valid choice." in page.locator("#id_status_error").inner_text()
    assert page.locator("#queue tbody tr").count() == 2
    screenshot(page, "queue-bad-filter")
    assert_accessible(page)
