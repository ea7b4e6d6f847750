"""The packet as a clinical document: whoever holds any page knows whose it is; it prints words,
never codes; dates as people write them; one bookmark per document."""

import re

import pytest
from pypdf import PdfReader

from referrals.packets.build import build_packet
from tests.test_packets import DOCUMENTS, packet_pdf, pdf_text, referral_with_documents

__all__ = ["packet_pdf"]  # the fixture, used below

pytestmark = pytest.mark.django_db

# Codes of the eligibility result and the referral's status that must never be printed (the
# plain English "accepted" and "submitted" occur in sentences, so the status is checked apart).
RAW_CODES = [
    "eligible", "ineligible", "incomplete", "pass", "fail", "unknown", "indication",
    "contraindication", "workup", "info_requested", "not_trialled", "systemic_or_local",
]  # fmt: skip


def test_every_page_names_the_patient_with_date_of_birth_and_medicare_number(packet_pdf):
    referral, output, info = packet_pdf
    reader = PdfReader(output)
    number = referral.medicare_number
    medicare = f"Medicare {number[:4]} {number[4:9]} {number[9:]}/{referral.medicare_irn}"
    total = len(reader.pages)
    assert total == info["pages"] > info["summary_pages"]
    for index, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert "Joan Sample" in text, index
        assert "born 9 Mar 1944" in text, index
        assert medicare in text, index
        assert f"Referral {referral.reference}" in text and f"Page {index} of {total}" in text


def test_an_accented_name_is_stamped_as_written(referrer, private_media, tmp_path):
    referral = referral_with_documents(
        referrer, documents=DOCUMENTS[:1], patient_given_name="Zoë", patient_family_name="Ó Brien"
    )
    output = tmp_path / "packet.pdf"
    build_packet(referral, output, version=1)
    for page in PdfReader(output).pages:
        assert "Zoë Ó Brien" in page.extract_text()


def test_the_packet_prints_no_raw_code(packet_pdf):
    _referral, output, _info = packet_pdf
    text = pdf_text(PdfReader(output))
    for code in RAW_CODES:
        # Case-sensitive whole words: "Contraindication" is the form's label, and is fine.
        assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text), code
    assert "Meets the criteria" in text
    assert "Coagulopathy: none recorded" in text
    assert "Contraindication: Uncorrected coagulopathy" in text
    assert "Awaiting IR review" not in text and "status Submitted" in text


def test_dates_are_written_as_people_write_them_dicom_ones_included(packet_pdf):
    _referral, output, _info = packet_pdf
    text = pdf_text(PdfReader(output))
    assert "20 Nov 2026, 09:30" in text  # the DICOM study date and time
    assert "20261120" not in text
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)  # no ISO dates
    assert "9 Mar 1944" in text


def test_image_and_dicom_pages_have_one_bookmark_each(packet_pdf):
    _referral, output, _info = packet_pdf
    outline = PdfReader(output).outline
    for position, item in enumerate(outline):
        if isinstance(item, list):
            continue
        if item.title.startswith("Imaging (images):"):
            following = outline[position + 1] if position + 1 < len(outline) else None
            assert not isinstance(following, list), f"{item.title} has a nested bookmark"
