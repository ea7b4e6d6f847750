"""The referrals app's URLs: the referrer's, the practice's, and files."""

from django.urls import path

from referrals.views import answers, files, hl7, intake, referral, staff

urlpatterns = [
    path("referrals/", intake.referral_list, name="referral_list"),
    path("referrals/new/", intake.referral_new, name="referral_new"),
    path("referrals/<uuid:referral_uuid>/", referral.referral_detail, name="referral_detail"),
    path(
        "referrals/<uuid:referral_uuid>/edit/<slug:section>/",
        intake.referral_section,
        name="referral_section",
    ),
    path(
        "referrals/<uuid:referral_uuid>/autosave/<slug:section>/",
        intake.referral_autosave,
        name="referral_autosave",
    ),
    path("referrals/<uuid:referral_uuid>/panel/", intake.referral_panel, name="referral_panel"),
    path(
        "referrals/<uuid:referral_uuid>/withdraw/",
        intake.referral_withdraw,
        name="referral_withdraw",
    ),
    path("referrals/<uuid:referral_uuid>/answer/", intake.referral_answer, name="referral_answer"),
    path(
        "referrals/<uuid:referral_uuid>/answer/reviewed/",
        staff.answer_reviewed,
        name="answer_reviewed",
    ),
    path(
        "referrals/<uuid:referral_uuid>/answer/<int:index>/",
        answers.referral_answer_item,
        name="referral_answer_item",
    ),
    path(
        "referrals/<uuid:referral_uuid>/documents/",
        files.attachment_upload,
        name="attachment_upload",
    ),
    path(
        "referrals/<uuid:referral_uuid>/documents/<uuid:attachment_uuid>/",
        files.attachment_download,
        name="attachment_download",
    ),
    path(
        "referrals/<uuid:referral_uuid>/documents/<uuid:attachment_uuid>/delete/",
        files.attachment_delete,
        name="attachment_delete",
    ),
    path(
        "referrals/<uuid:referral_uuid>/packets/<uuid:packet_uuid>/",
        files.packet_inline,
        name="packet_inline",
    ),
    path(
        "referrals/<uuid:referral_uuid>/packets/<uuid:packet_uuid>/download/",
        files.packet_download,
        name="packet_download",
    ),
    path(
        "referrals/<uuid:referral_uuid>/packets/<uuid:packet_uuid>/summary/",
        files.packet_summary,
        name="packet_summary",
    ),
    path(
        "referrals/<uuid:referral_uuid>/packets/<uuid:packet_uuid>/retry/",
        files.packet_retry,
        name="packet_retry",
    ),
    path(
        "referrals/<uuid:referral_uuid>/actions/<slug:action>/",
        staff.referral_action,
        name="referral_action",
    ),
    path(
        "referrals/<uuid:referral_uuid>/messages/",
        staff.message_create,
        name="message_create",
    ),
    path(
        "referrals/<uuid:referral_uuid>/booking-letter/",
        files.booking_letter,
        name="booking_letter",
    ),
    path("referrals/<uuid:referral_uuid>/audit/", referral.referral_audit, name="referral_audit"),
    path(
        "referrals/<uuid:referral_uuid>/facts-from-letter/",
        hl7.referral_facts_from_letter,
        name="referral_facts_from_letter",
    ),
    path("triage/", staff.triage_queue_view, name="triage_queue"),
    path("triage/export.csv", staff.triage_queue_csv, name="triage_queue_csv"),
    path("reviews/", staff.review_list, name="review_list"),
]
