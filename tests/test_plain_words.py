"""Through HTTP: pages say each criterion as a statement with its answer, one status word per
status on every page, "Choose…" for every empty choice, and no code reaches a person."""

import re

import pytest
from django.urls import reverse

from referrals import workflow
from tests.factories import make_referral

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    """The page's words, tags and attributes stripped."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_criteria_panel_states_each_criterion_with_its_answer(client, referrer):
    draft = make_referral(referrer, infection="systemic", healed_fracture=None)
    client.force_login(referrer)
    words = text_of(client.get(reverse("referral_section", args=[draft.uuid, "clinical"])))
    assert "Infection: systemic Present" in words
    assert "Coagulopathy: none recorded Not present" in words
    assert "Healed fracture: not known Not known" in words
    assert "Outside the criteria" in words and "1 not met, 1 not known" in words


def test_the_queue_and_the_referral_page_name_what_is_not_met(client, referrer, admin_user):
    referral = make_referral(referrer, status="submitted", coagulopathy="uncorrected")
    client.force_login(admin_user)
    queue = text_of(client.get(reverse("triage_queue")))
    assert "Coagulopathy: uncorrected (Present)" in queue
    page = text_of(client.get(reverse("referral_detail", args=[referral.uuid])))
    assert "Coagulopathy: uncorrected Present" in page
    assert "Pain score: 8/10 Met" in page


def test_a_status_reads_the_same_on_every_page(client, referrer, admin_user, radiologist):
    referral = make_referral(referrer, status="submitted")
    workflow.referral_accept(referral=referral, by=admin_user, radiologist=radiologist)
    pages = []
    client.force_login(radiologist)
    pages.append(text_of(client.get(reverse("review_list"))))
    pages.append(text_of(client.get(reverse("referral_detail", args=[referral.uuid]))))
    client.force_login(admin_user)
    pages.append(text_of(client.get(reverse("triage_queue"))))
    client.force_login(referrer)
    pages.append(text_of(client.get(reverse("referral_list"))))
    pages.append(text_of(client.get(reverse("referral_detail", args=[referral.uuid]))))
    for words in pages:
        assert "Awaiting IR review" in words
        assert "Awaiting your review" not in words
        assert not re.search(r"\baccepted\b", words.replace("is accepted", ""))


def test_every_empty_choice_reads_choose(client, referrer):
    draft = make_referral(referrer)
    client.force_login(referrer)
    for section in ("patient", "clinical", "imaging", "documents"):
        html = client.get(reverse("referral_section", args=[draft.uuid, section])).content.decode()
        empty = re.findall(r'<option value=""[^>]*>([^<]*)</option>', html)
        assert empty, section
        assert set(empty) <= {"Choose…", "No preference"}, (section, empty)
        assert "---------" not in html


def test_the_task_list_shows_each_sections_state(client, referrer):
    draft = make_referral(referrer, imaging=False, patient_phone="")
    client.force_login(referrer)
    words = text_of(client.get(reverse("referral_section", args=[draft.uuid, "clinical"])))
    assert "1. Patient Needs attention" in words
    assert "2. Clinical details Completed" in words
    assert "3. Imaging and medicines Not started" in words
    assert "4. Documents Not started" in words


def test_the_review_step_is_a_summary_list_with_a_change_link_per_answer(client, referrer):
    draft = make_referral(referrer)
    client.force_login(referrer)
    html = client.get(reverse("referral_section", args=[draft.uuid, "review"])).content.decode()
    clinical = reverse("referral_section", args=[draft.uuid, "clinical"])
    assert f'href="{clinical}#id_pain_score">Change<span class="visually-hidden"> pain' in html
    assert html.count(">Change<") >= 15
    # The referral page shows the same list without them.
    submitted = make_referral(referrer, status="submitted")
    page = client.get(reverse("referral_detail", args=[submitted.uuid])).content.decode()
    assert 'class="summary-row"' in page and ">Change<" not in page


def test_digests_show_a_short_prefix_with_the_full_value_on_demand(
    client, referrer, admin_user, private_media
):
    from referrals.packets import queue as packet_queue
    from tests.test_packets import DOCUMENTS, referral_with_documents

    referral = referral_with_documents(referrer, documents=DOCUMENTS[:1])
    packet = packet_queue.packet_render(packet_id=referral.packets.get().pk)
    client.force_login(admin_user)
    html = client.get(reverse("referral_detail", args=[referral.uuid])).content.decode()
    for digest in (packet.sha256, referral.attachments.get().sha256):
        assert f"<code>{digest[:12]}…</code>" in html
        assert f'<code class="digest-full user-select-all">{digest}</code>' in html
