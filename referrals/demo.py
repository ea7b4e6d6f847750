"""Synthetic demo referrals for `seed_demo`: invented patients, generated documents."""

import io
from datetime import timedelta

from django.core.files.uploadedfile import TemporaryUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw
from weasyprint import HTML

from portal.validators import medicare_check_digit
from referrals import workflow
from referrals.attachments import attachment_add
from referrals.intake import referral_create
from referrals.models import ImagingStudy, Medicine, Referral, Site

DEMO_SITES = [
    ("Example Private Hospital, Parkville", "1 Demo Parade, Parkville VIC 3052"),
    ("Example Public Hospital, Box Hill", "2 Sample Street, Box Hill VIC 3128"),
    ("Example Day Hospital, Footscray", "3 Placeholder Road, Footscray VIC 3011"),
]

# Invented patients (names chosen to be obviously synthetic) and how far each has got.
DEMO_REFERRALS = [
    # given, family, dob, medicare, onset days ago, pain, level, cause, state
    ("Joan", "Sample", "1941-05-02", "2950123457", 6, 9, "L1", "osteoporotic", "draft"),
    ("Peter", "Demo", "1938-11-17", "3950123458", 9, 8, "T12", "osteoporotic", "submitted"),
    ("Helen", "Fictional", "1946-02-23", "4950123459", 15, 7, "L2", "osteoporotic", "info"),
    ("Ronald", "Synthetic", "1935-08-30", "5950123450", 30, 6, "L3", "traumatic", "submitted"),
    ("Agnes", "Placeholder", "1943-01-12", "6950123451", 12, 9, "T11", "osteoporotic", "accepted"),
    ("Walter", "Mockton", "1940-07-04", "2950123452", 8, 8, "L1", "osteoporotic", "booked"),
]


def _pdf(title: str, lines: list[str]) -> bytes:
    body = "".join(f"<p>{line}</p>" for line in lines)
    html = f"<h1>{title}</h1><p><em>Synthetic demonstration document.</em></p>{body}"
    return HTML(string=html, url_fetcher=_no_fetch).write_pdf()


def _no_fetch(url, *args, **kwargs):
    raise ValueError("demo documents load nothing")


def _image(label: str, fmt: str) -> bytes:
    image = Image.new("L", (512, 512), 20)
    draw = ImageDraw.Draw(image)
    for y in range(60, 460, 70):
        draw.rounded_rectangle((200, y, 312, y + 55), radius=10, fill=170)
    draw.text((12, 12), f"SYNTHETIC {label}", fill=255)
    out = io.BytesIO()
    image.convert("RGB").save(out, format=fmt)
    return out.getvalue()


def _upload(name: str, content: bytes) -> TemporaryUploadedFile:
    handle = TemporaryUploadedFile(name, "application/octet-stream", len(content), None)
    handle.write(content)
    handle.flush()
    return handle


def _medicare(first_eight: str) -> str:
    return first_eight + str(medicare_check_digit(first_eight)) + "1"


def seed_sites() -> list[Site]:
    return [
        Site.objects.get_or_create(name=name, defaults={"address": address})[0]
        for name, address in DEMO_SITES
    ]


def seed_referrals(*, referrer, admin, radiologist) -> int:
    """Create the demo referrals once; returns how many were made (0 if they exist)."""
    if Referral.objects.filter(referrer=referrer).exists():
        return 0
    sites = seed_sites()
    today = timezone.localdate()
    for index, (given, family, dob, medicare, onset, pain, level, cause, state) in enumerate(
        DEMO_REFERRALS
    ):
        referral = referral_create(referrer=referrer)
        Referral.objects.filter(pk=referral.pk).update(
            patient_given_name=given,
            patient_family_name=family,
            patient_dob=dob,
            patient_sex="female" if index % 2 == 0 else "male",
            medicare_number=_medicare(medicare[:8]),
            medicare_irn=1 + index,
            patient_phone="0400 000 00" + str(index),
            address_line=f"{10 + index} Example Street",
            suburb="Carlton",
            state="VIC",
            postcode="3053",
            patient_consent=True,
            preferred_site=sites[index % len(sites)],
            levels=[level],
            cause=cause,
            pain_score=pain,
            pain_onset=today - timedelta(days=onset),
            opioid_response="poor",
            coagulopathy="none",
            infection="none",
            canal_compromise=False,
            neurological_deficit=False,
            healed_fracture=False,
            anticoagulation_reviewed=index != 2,
            coag_profile_on=today - timedelta(days=4),
            inr="1.10",
            platelets=240,
            history="Synthetic history: bent to lift a basket, sudden severe back pain.",
            current_analgesia="Oxycodone 5 mg four times a day; paracetamol 1 g four times a day.",
            allergies="No known allergies.",
            osteoporosis_treatment="Denosumab since 2022.",
        )
        referral.refresh_from_db()
        ImagingStudy.objects.create(
            referral=referral,
            modality="MRI",
            performed_on=today - timedelta(days=max(onset - 3, 0)),
            acute_fracture=True,
            location="Example Imaging, Carlton",
        )
        Medicine.objects.create(
            referral=referral, kind="antiplatelet", name="Aspirin", dose="100 mg daily"
        )
        documents = [
            ("clinical_notes", "gp-notes.pdf", _pdf("Clinical notes", [f"{given} {family}."])),
            ("imaging_report", "mri-report.pdf", _pdf("MRI report", [f"Acute {level} fracture."])),
            ("imaging", "mri-key-image.png", _image(f"MRI {level}", "PNG")),
            ("pathology", "bloods.jpg", _image("PATHOLOGY", "JPEG")),
        ]
        for kind, name, content in documents:
            attachment_add(
                referral=referral, kind=kind, uploaded_file=_upload(name, content), by=referrer
            )
        if state in ("submitted", "info", "accepted", "booked"):
            workflow.referral_submit(
                referral=referral,
                by=referrer,
                outside_criteria_reason=""
                if cause == "osteoporotic" and pain >= 7
                else ("Demo: severe pain and poor mobility; for the IR to decide."),
            )
        if state == "info":
            workflow.referral_request_info(
                referral=referral,
                by=admin,
                items=[
                    {
                        "kind": "criterion",
                        "id": "workup_anticoagulation",
                        "label": "Review of anticoagulation/antiplatelet therapy",
                    },
                    {"kind": "document", "id": "consultations", "label": "Consultation records"},
                ],
                note="Please confirm the plan for aspirin and send the orthopaedic letter.",
            )
        if state in ("accepted", "booked"):
            workflow.referral_accept(referral=referral, by=admin, radiologist=radiologist)
        if state == "booked":
            workflow.referral_approve(referral=referral, by=radiologist, note="Suitable.")
            start = timezone.localtime() + timedelta(days=3)
            start = start.replace(hour=8, minute=30, second=0, microsecond=0)
            workflow.referral_book(referral=referral, by=admin, start=start, site=sites[0])
    return len(DEMO_REFERRALS)
