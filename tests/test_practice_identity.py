"""The practice's name and contact details (its PracticeProfile row), logo and colour
(settings) appear in the header, the sign-in page, emails and the packet's cover."""

import pytest
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from portal.models import PracticeProfile
from referrals.notifications import notification_message
from referrals.packets.build import build_packet
from tests.factories import make_referral

pytestmark = pytest.mark.django_db


@pytest.fixture
def practice(settings):
    profile = PracticeProfile.load()
    profile.name = "Harbourside Spine & Imaging"
    profile.address = "Level 2, 10 Example Quay"
    profile.urgent_phone = "02 9000 0000"
    profile.fax = ""
    profile.save()
    settings.PRACTICE_LOGO = "img/practice-logo.svg"
    settings.PRACTICE_COLOUR = "#f0c020"  # light: dark text on it
    return settings


def test_the_sign_in_page_and_every_header_carry_the_practice(client, practice, referrer):
    html = client.get(reverse("login")).content.decode()
    assert "Harbourside Spine &amp; Imaging" in html
    assert "Level 2, 10 Example Quay · Urgent cases 02 9000 0000" in html
    assert "/static/img/practice-logo.svg" in html
    assert "<title>Sign in · Harbourside Spine &amp; Imaging</title>" in html
    client.force_login(referrer)
    page = client.get(reverse("referral_list")).content.decode()
    assert 'class="navbar-brand' in page and "Harbourside Spine &amp; Imaging" in page
    # The footer sits in the content's container, so their edges line up.
    assert '<footer class="container-xxl' in page and '<main id="main" class="container-xxl' in page


def test_the_practice_colour_is_a_stylesheet_with_readable_text_on_it(client, practice):
    response = client.get(reverse("practice_css"))
    assert response["Content-Type"].startswith("text/css")
    css = response.content.decode()
    assert "--portal-colour: #f0c020" in css and "--portal-on-colour: #111111" in css
    practice.PRACTICE_COLOUR = "#0b3d66"
    assert "--portal-on-colour: #ffffff" in client.get(reverse("practice_css")).content.decode()


def test_emails_sign_off_with_the_practice(practice, referrer):
    referral = make_referral(referrer, status="submitted")
    message = notification_message(referral=referral, event="submitted", recipient=referrer.email)
    assert "Harbourside Spine & Imaging" in message.body
    assert "Level 2, 10 Example Quay" in message.body
    assert referral.patient_family_name not in message.body
    mail.outbox.clear()


def test_the_packet_cover_carries_the_practice(practice, referrer, private_media, tmp_path):
    referral = make_referral(referrer, status="submitted")
    output = tmp_path / "packet.pdf"
    build_packet(referral, output, version=1)
    first = PdfReader(output).pages[0].extract_text()
    assert "Harbourside Spine & Imaging" in first
    assert "Level 2, 10 Example Quay" in first
    # The logo: WeasyPrint draws the SVG as an XObject on the cover.
    assert "/XObject" in PdfReader(output).pages[0]["/Resources"]


def test_a_logo_that_is_not_a_static_file_shows_no_logo_rather_than_failing(client, practice):
    practice.PRACTICE_LOGO = "img/no-such-logo.png"
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "no-such-logo" not in response.content.decode()
    assert "Harbourside Spine &amp; Imaging" in response.content.decode()
