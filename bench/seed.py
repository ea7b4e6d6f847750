"""Seed the bench database: N synthetic referrals by COPY, the personas, and the files.

Run by bench/run.py as `python -m bench.seed --n N --out info.json --files DIR` with
DJANGO_SETTINGS_MODULE=bench.settings, on a freshly migrated database. Every person and patient
is invented (names from short lists); Medicare, provider and IHI numbers pass their checks.
"""

import argparse
import io
import json
import random
import struct
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path

import django

PASSWORD = "bench-password-2026"  # noqa: S105 - synthetic accounts in a throwaway database
HEAVY_REFERRALS = 2000
UPLOAD_DRAFTS = 4
# 400 frames of 512 x 512 16-bit pixels: a 200 MB MRI series for the upload scenario.
UPLOAD_FRAMES = 400
DAYS = 90

GIVEN = ["Joan", "Peter", "Helen", "Ronald", "Agnes", "Walter", "Margaret", "Arthur", "Dorothy",
         "Keith", "Beryl", "Norman", "Shirley", "Colin", "Valerie", "Graham", "Maureen", "Trevor",
         "Patricia", "Desmond", "Elaine", "Barry", "Gwen", "Clive", "Irene", "Neville"]  # fmt: skip
FAMILY = ["Sample", "Demo", "Fictional", "Synthetic", "Placeholder", "Mockton", "Testwood",
          "Example", "Dummyfield", "Madeup", "Pretendon", "Imaginary", "Inventia", "Notreal",
          "Specimen", "Proxyman", "Stubbs", "Fakenham", "Standin", "Likeness", "Modelle",
          "Prototyp", "Simulacre", "Facsimile", "Replicant", "Surrogate", "Avatarson",
          "Figment", "Fabricat", "Contrive", "Hypothet", "Nominal", "Notional", "Mockridge",
          "Shamwell", "Ersatz", "Phantasm", "Quasimo", "Semblance", "Apparent"]  # fmt: skip
SUBURBS = [("Carlton", "VIC", "3053"), ("Box Hill", "VIC", "3128"), ("Footscray", "VIC", "3011"),
           ("Parkville", "VIC", "3052"), ("Geelong", "VIC", "3220"), ("Ballarat", "VIC", "3350"),
           ("Albury", "NSW", "2640"), ("Mildura", "VIC", "3500")]  # fmt: skip
SITES = [("Example Private Hospital, Parkville", "1 Demo Parade, Parkville VIC 3052"),
         ("Example Public Hospital, Box Hill", "2 Sample Street, Box Hill VIC 3128"),
         ("Example Day Hospital, Footscray", "3 Placeholder Road, Footscray VIC 3011"),
         ("Example Regional Hospital, Geelong", "4 Mock Street, Geelong VIC 3220"),
         ("Example Base Hospital, Ballarat", "5 Stub Lane, Ballarat VIC 3350")]  # fmt: skip
# A practice keeps its history: most referrals are closed, a quarter are open.
STATUS_WEIGHTS = {"draft": 5, "submitted": 10, "info_requested": 4, "accepted": 5, "approved": 3,
                  "booked": 3, "completed": 40, "declined": 20, "withdrawn": 10}  # fmt: skip
PATHS = {
    "draft": ["draft"],
    "submitted": ["draft", "submitted"],
    "info_requested": ["draft", "submitted", "info_requested"],
    "accepted": ["draft", "submitted", "accepted"],
    "approved": ["draft", "submitted", "accepted", "approved"],
    "booked": ["draft", "submitted", "accepted", "approved", "booked"],
    "completed": ["draft", "submitted", "accepted", "approved", "booked", "completed"],
    "declined": ["draft", "submitted", "declined"],
    "withdrawn": ["draft", "submitted", "withdrawn"],
}
WITH_IR = {"accepted", "approved", "booked", "completed"}
HISTORIES = [
    "Bent to lift a basket, sudden severe back pain.",
    "Fall from standing at home.",
    "Pain after coughing; known osteoporosis.",
    "No trauma; woke with severe pain.",
]
ANALGESIA = [
    "Oxycodone 5 mg four times a day; paracetamol 1 g four times a day.",
    "Tapentadol 50 mg twice a day.",
    "Buprenorphine patch 10 micrograms an hour.",
]


def _rng_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def medicare_number(rng: random.Random) -> str:
    from portal.validators import medicare_check_digit

    first_eight = rng.choice("23456") + "".join(rng.choice("0123456789") for _ in range(7))
    return first_eight + str(medicare_check_digit(first_eight)) + rng.choice("123456789")


def provider_number(rng: random.Random) -> str:
    from portal.validators import PROVIDER_LOCATION_CHARS, provider_check_character

    stem = "".join(rng.choice("0123456789") for _ in range(6))
    location = rng.choice(PROVIDER_LOCATION_CHARS)
    return stem + location + provider_check_character(stem, location)


def _copy(model, rows, *, with_id: bool = False) -> int:
    """COPY dict rows (keyed by attname) into the model's table; a missing key takes the field's
    default, as the ORM would (COPY itself knows no Django defaults)."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = []
                for f in fields:
                    value = row[f.attname] if f.attname in row else f.get_default()
                    if isinstance(value, dict | list):
                        value = json.dumps(value)
                    values.append(value)
                copy.write_row(values)
                count += 1
    return count


def _reset_sequence(model) -> None:
    from django.db import connection

    table = model._meta.db_table
    quoted = connection.ops.quote_name(table)  # a model's own table name, not input
    sql = f"SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE(MAX(id), 1)) FROM {quoted}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [table])


# --- people ---------------------------------------------------------------------------------------


def seed_people(rng: random.Random, n: int) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from portal.models import ReferrerProfile, User

    hashed = make_password(PASSWORD)  # once: every synthetic account shares it
    now = timezone.now()
    n_referrers = max(40, min(2000, n // 50))
    specs = (
        [("admin", f"bench-admin{i}@practice.example") for i in range(10)]
        + [("radiologist", f"bench-ir{i}@practice.example") for i in range(8)]
        + [("referrer", "bench-gp-heavy@clinic.example")]
        + [("referrer", f"bench-gp{i}@clinic.example") for i in range(n_referrers)]
    )
    users = [
        User(
            email=email,
            password=hashed,
            first_name=rng.choice(GIVEN),
            last_name=rng.choice(FAMILY),
            is_active=True,
            date_joined=now - timedelta(days=400),
        )
        for _role, email in specs
    ]
    User.objects.bulk_create(users, batch_size=1000)
    by_email = dict(User.objects.values_list("email", "id"))
    groups = dict(Group.objects.values_list("name", "id"))
    through = User.groups.through
    through.objects.bulk_create(
        [through(user_id=by_email[email], group_id=groups[role]) for role, email in specs],
        batch_size=2000,
    )
    ReferrerProfile.objects.bulk_create(
        [
            ReferrerProfile(
                user_id=by_email[email],
                provider_number=provider_number(rng),
                practice_name=f"Example Medical Clinic {i}",
                address="1 Example Street, Carlton VIC 3053",
                phone="03 9000 0000",
                approved_at=now - timedelta(days=300),
            )
            for i, (role, email) in enumerate(specs)
            if role == "referrer"
        ],
        batch_size=1000,
    )
    ids = {role: [by_email[e] for r, e in specs if r == role] for role in groups}
    return {
        "emails": {role: [e for r, e in specs if r == role] for role in groups},
        "admin_ids": ids["admin"],
        "ir_ids": ids["radiologist"],
        "heavy_id": by_email["bench-gp-heavy@clinic.example"],
        "other_referrer_ids": [
            i for i in ids["referrer"] if i != by_email["bench-gp-heavy@clinic.example"]
        ],
    }


# --- referrals ------------------------------------------------------------------------------------


def _clinical(rng: random.Random, onset: date) -> dict:
    levels_pool = ["T11", "T12", "L1", "L2"] * 6 + ["T10", "L3", "L4", "T8"]
    levels = sorted(set(rng.sample(levels_pool, 1 if rng.random() < 0.8 else 2)))
    return {
        "levels": levels,
        "cause": rng.choices(
            ["osteoporotic", "traumatic", "malignant", "myeloma", "other"], [80, 8, 6, 3, 3]
        )[0],
        "pain_score": rng.choices(range(4, 11), [2, 3, 6, 20, 30, 25, 14])[0],
        "pain_onset": onset,
        "opioid_response": rng.choices(["poor", "adequate", "not_trialled"], [80, 12, 8])[0],
        "mri_contraindicated": rng.random() < 0.05,
        "coagulopathy": rng.choices(["none", "corrected", "uncorrected"], [90, 7, 3])[0],
        "infection": rng.choices(["none", "local", "systemic"], [96, 2, 2])[0],
        "canal_compromise": rng.random() < 0.07,
        "neurological_deficit": rng.random() < 0.02,
        "healed_fracture": rng.random() < 0.04,
        "anticoagulation_reviewed": rng.random() < 0.85,
        "coag_profile_on": onset + timedelta(days=rng.randint(0, 6)),
    }


def _imaging(rng: random.Random, onset: date, latest: date) -> list[dict]:
    studies = []
    first = min(onset + timedelta(days=rng.randint(0, 5)), latest)
    modality = rng.choices(["MRI", "SPECT-CT", "CT", "XR"], [80, 6, 8, 6])[0]
    studies.append({"modality": modality, "performed_on": first,
                    "acute_fracture": rng.random() < 0.9})  # fmt: skip
    if rng.random() < 0.35:
        studies.append({"modality": "XR", "performed_on": first, "acute_fracture": None})
    return studies


def _facts(row: dict, imaging: list[dict]) -> dict:
    """The eligibility contract's facts, as referrals.intake.referral_facts builds them."""
    facts = {key: row[key] for key in ("levels", "cause", "pain_score", "opioid_response",
             "mri_contraindicated", "coagulopathy", "infection", "canal_compromise",
             "neurological_deficit", "healed_fracture", "anticoagulation_reviewed")}  # fmt: skip
    facts["pain_onset"] = row["pain_onset"].isoformat()
    facts["coag_profile_on"] = row["coag_profile_on"].isoformat()
    facts["imaging"] = [
        {"modality": s["modality"], "performed_on": s["performed_on"].isoformat(),
         "acute_fracture": s["acute_fracture"]}
        for s in imaging
    ]  # fmt: skip
    return facts


def seed_referrals(rng: random.Random, n: int, people: dict, sites: list[int]) -> dict:
    from django.conf import settings
    from django.utils import timezone

    from eligibility import rules
    from referrals.models import ImagingStudy, Packet, ReferenceCounter, Referral, StatusEvent

    now = timezone.now()
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    heavy = min(HEAVY_REFERRALS, max(1, n // 10))
    owners = [people["heavy_id"]] * heavy + [
        rng.choice(people["other_referrer_ids"]) for _ in range(n - heavy)
    ]
    rng.shuffle(owners)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    rows, imaging_by_row = [], []
    for owner in owners:
        onset = today - timedelta(days=rng.randint(0, DAYS))
        status = rng.choices(statuses, weights)[0]
        created = datetime.combine(
            min(onset + timedelta(days=rng.randint(0, 10)), today),
            dtime(rng.randint(7, 18), rng.randint(0, 59), rng.randint(0, 59)),
            tzinfo=tz,
        )
        created = min(created, now - timedelta(minutes=30))
        started_on = timezone.localtime(created).date()  # nothing is dated after this
        row = {"referrer_id": owner, "status": status, "created_at": created}
        row.update(_clinical(rng, onset))
        row["coag_profile_on"] = min(row["coag_profile_on"], started_on)
        rows.append(row)
        imaging_by_row.append(_imaging(rng, onset, started_on))
    # Ids and references follow the order referrals were started in, as in real life.
    order = sorted(range(n), key=lambda i: rows[i]["created_at"])
    rows = [rows[i] for i in order]
    imaging_by_row = [imaging_by_row[i] for i in order]

    counters: dict[int, int] = {}
    events, studies, packets = [], [], []
    t_rules = time.perf_counter()

    def referral_rows():
        for pk, (row, imaging) in enumerate(zip(rows, imaging_by_row, strict=True), start=1):
            status = row["status"]
            created = row["created_at"]
            year = timezone.localtime(created).year
            counters[year] = counters.get(year, 0) + 1
            submitted = None
            updated = created + timedelta(minutes=rng.randint(5, 90))
            eligibility = None
            outcome = reason = version = ""
            if status != "draft":
                submitted = min(created + timedelta(hours=rng.randint(1, 72)), now)
                result = rules.check(
                    _facts(row, imaging),
                    today=timezone.localtime(submitted).date(),
                    coag_max_age_days=settings.COAG_PROFILE_MAX_AGE_DAYS,
                )
                eligibility = json.dumps(result.as_dict())
                outcome, version = result.outcome, result.criteria_version
                if outcome != "eligible":
                    reason = "Severe pain and poor mobility; for the IR to decide."
                updated = min(submitted + timedelta(days=rng.uniform(0, 20)), now)
            steps = PATHS[status]
            span = (updated - (submitted or created)) / max(len(steps) - 1, 1)
            for i, step in enumerate(steps):
                at = created if i == 0 else (submitted + span * (i - 1) if i > 1 else submitted)
                by = row["referrer_id"]
                if step in ("accepted", "booked", "declined", "info_requested"):
                    by = rng.choice(people["admin_ids"])
                elif step in ("approved", "completed"):
                    by = rng.choice(people["ir_ids"])
                events.append({"referral_id": pk, "from_status": steps[i - 1] if i else "",
                               "to_status": step, "by_id": by, "at": at})  # fmt: skip
            for study in imaging:
                studies.append({"referral_id": pk, "location": "Example Imaging, Carlton",
                                **study})  # fmt: skip
            if status != "draft" and rng.random() < 0.7:
                for v in range(1, 3 if rng.random() < 0.3 else 2):
                    packet_status = rng.choices(["ready", "failed", "queued"], [95, 3, 2])[0]
                    at = submitted + timedelta(minutes=v)
                    packets.append({"uuid": _rng_uuid(rng), "referral_id": pk, "version": v,
                                    "status": packet_status, "reason": "Submitted" if v == 1
                                    else "Information answered", "created_at": at,
                                    "enqueued_at": at, "claimed_at": at,
                                    "finished_at": at})  # fmt: skip
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            suburb, state, postcode = rng.choice(SUBURBS)
            booked = booking_site = None
            if status in ("booked", "completed"):
                booked = updated + timedelta(days=rng.randint(1, 7))
                booking_site = rng.choice(sites)
            values = {
                "id": pk,
                "uuid": _rng_uuid(rng),
                "reference": f"VP-{year}-{counters[year]:05d}",
                "referrer_id": row["referrer_id"],
                "status": status,
                "assigned_radiologist_id": rng.choice(people["ir_ids"])
                if status in WITH_IR
                else None,
                "patient_given_name": given,
                "patient_family_name": family,
                "patient_dob": date(
                    rng.randint(1928, 1965), rng.randint(1, 12), rng.randint(1, 28)
                ),
                "patient_sex": rng.choice(["female", "female", "male", "not_stated"]),
                "medicare_number": medicare_number(rng),
                "medicare_irn": rng.randint(1, 9),
                "ihi": "",
                "patient_phone": f"0400 {rng.randint(0, 999):03d} {rng.randint(0, 999):03d}",
                "address_line": f"{rng.randint(1, 200)} Example Street",
                "suburb": suburb,
                "state": state,
                "postcode": postcode,
                "interpreter_needed": False,
                "interpreter_language": "",
                "patient_consent": True,
                "preferred_site_id": rng.choice(sites),
                "copy_to": "",
                "levels": json.dumps(row["levels"]),
                "cause": row["cause"],
                "pain_score": row["pain_score"],
                "pain_onset": row["pain_onset"],
                "opioid_response": row["opioid_response"],
                "mri_contraindicated": row["mri_contraindicated"],
                "mri_contraindication_reason": "Pacemaker" if row["mri_contraindicated"] else "",
                "coagulopathy": row["coagulopathy"],
                "infection": row["infection"],
                "canal_compromise": row["canal_compromise"],
                "neurological_deficit": row["neurological_deficit"],
                "healed_fracture": row["healed_fracture"],
                "anticoagulation_reviewed": row["anticoagulation_reviewed"],
                "coag_profile_on": row["coag_profile_on"],
                "inr": Decimal("1.10"),
                "platelets": rng.randint(150, 400),
                "history": rng.choice(HISTORIES),
                "current_analgesia": rng.choice(ANALGESIA),
                "allergies": "No known allergies.",
                "osteoporosis_treatment": "Denosumab since 2022.",
                "draft_data": "{}",
                "eligibility": eligibility,
                "eligibility_outcome": outcome,
                "criteria_version": version,
                "outside_criteria_reason": reason,
                "possible_duplicate": rng.random() < 0.01,
                "decline_reason": rng.choice(["pain_under_7", "over_three_weeks", "other"])
                if status == "declined"
                else "",
                "decline_note": "",
                "booked_start": booked,
                "booking_site_id": booking_site,
                "created_at": created,
                "updated_at": updated,
                "submitted_at": submitted,
            }
            yield values

    made = _copy(Referral, referral_rows(), with_id=True)
    rules_seconds = time.perf_counter() - t_rules
    _copy(StatusEvent, events)
    _copy(ImagingStudy, studies)
    _copy(Packet, packets)
    for model in (Referral, StatusEvent, ImagingStudy, Packet):
        _reset_sequence(model)
    for year, last in counters.items():
        ReferenceCounter.objects.update_or_create(year=year, defaults={"last": last})
    return {
        "referrals": made,
        "heavy_referrals": heavy,
        "events": len(events),
        "imaging": len(studies),
        "packets": len(packets),
        "generate_seconds": round(rules_seconds, 1),
    }


# --- files and the referrals the scenarios use --------------------------------------------------


def letter_pdf(title: str, pages: int) -> bytes:
    """A real letter of `pages` pages of text, rendered by WeasyPrint (fetches nothing)."""
    from weasyprint import HTML

    paragraph = (
        "<p>Synthetic clinical correspondence for the benchmark. The patient presented with "
        "acute thoracolumbar back pain after a minor fall at home, with tenderness over the "
        "upper lumbar spine and no new neurological signs. Analgesia was escalated and an MRI "
        "of the thoracolumbar spine was requested. Past history includes osteoporosis treated "
        "with denosumab, hypertension and a right total hip replacement.</p>"
    )
    body = "".join(
        f"<section style='page-break-after: always'><h2>{title}, page {p}</h2>{paragraph * 6}"
        "</section>"
        for p in range(1, pages + 1)
    )

    def no_fetch(url, *args, **kwargs):
        raise ValueError("bench documents load nothing")

    return HTML(string=f"<h1>{title}</h1>{body}", url_fetcher=no_fetch).write_pdf()


def photo_jpeg(rng: random.Random, size=(2048, 1536)) -> bytes:
    """A photo-sized JPEG (noise over a gradient compresses like a real photograph)."""
    from PIL import Image

    noise = Image.effect_noise(size, 48)
    gradient = Image.linear_gradient("L").resize(size)
    red = Image.blend(noise, gradient, 0.5)
    image = Image.merge("RGB", (red, gradient, noise))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def _dicom_header(rows: int, columns: int, frames: int) -> bytes:
    """A DICOM MR image's file meta and dataset, up to (not including) its pixel data."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    mr_image_storage = "1.2.840.10008.5.1.4.1.1.4"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = mr_image_storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = mr_image_storage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.StudyDate = "20261120"
    ds.StudyDescription = "MRI THORACOLUMBAR SPINE"
    ds.Rows = rows
    ds.Columns = columns
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _frame(side: int) -> bytes:
    """One 16-bit frame: a smooth 12-bit pattern, like soft tissue more than noise."""
    import numpy as np

    y, x = np.mgrid[0:side, 0:side]
    values = (2048 + 1500 * np.sin(x / 23.0) * np.cos(y / 31.0)).astype("<u2")
    return values.tobytes()


def write_dicom(path: Path, *, side: int, frames: int) -> int:
    """Write a DICOM MR series of `frames` frames, streaming the pixel data. Returns its size."""
    frame = _frame(side)
    length = len(frame) * frames
    with open(path, "wb") as handle:
        handle.write(_dicom_header(side, side, frames))
        # (7FE0,0010) Pixel Data, explicit VR "OW": tag, VR, two reserved bytes, 32-bit length.
        handle.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length))
        for _ in range(frames):
            handle.write(frame)
    return path.stat().st_size


def _upload(name: str, content: bytes):
    from django.core.files.uploadedfile import TemporaryUploadedFile

    handle = TemporaryUploadedFile(name, "application/octet-stream", len(content), None)
    handle.write(content)
    handle.flush()
    return handle


def seed_scenario_referrals(rng: random.Random, people: dict, files: Path) -> dict:
    """The standard referral for the packet (through the services, as a doctor would make it),
    and drafts for the upload scenario."""
    from django.utils import timezone

    from portal.models import User
    from referrals import attachments, intake, workflow
    from referrals.models import ImagingStudy, Medicine, Referral

    today = timezone.localdate()
    doctor = User.objects.get(pk=people["other_referrer_ids"][0])
    referral = intake.referral_create(referrer=doctor)
    clinical = _clinical(random.Random(1), today - timedelta(days=9))
    clinical.update(cause="osteoporotic", pain_score=9, opioid_response="poor", levels=["L1"],
                    coagulopathy="none", infection="none", canal_compromise=False,
                    neurological_deficit=False, healed_fracture=False,
                    mri_contraindicated=False, anticoagulation_reviewed=True)  # fmt: skip
    Referral.objects.filter(pk=referral.pk).update(
        patient_given_name="Joan", patient_family_name="Sample", patient_dob=date(1941, 5, 2),
        patient_sex="female", medicare_number=medicare_number(rng), medicare_irn=1,
        patient_phone="0400 000 001", address_line="10 Example Street", suburb="Carlton",
        state="VIC", postcode="3053", patient_consent=True, inr="1.10", platelets=240,
        history=HISTORIES[0], current_analgesia=ANALGESIA[0], allergies="No known allergies.",
        osteoporosis_treatment="Denosumab since 2022.", **clinical,
    )  # fmt: skip
    referral.refresh_from_db()
    ImagingStudy.objects.create(referral=referral, modality="MRI", acute_fracture=True,
                                performed_on=today - timedelta(days=7),
                                location="Example Imaging, Carlton")  # fmt: skip
    Medicine.objects.create(referral=referral, kind="antiplatelet", name="Aspirin",
                            dose="100 mg daily", plan="Continue")  # fmt: skip
    documents = [
        ("clinical_notes", "gp-letter.pdf", letter_pdf("GP referral letter", 10)),
        ("imaging_report", "mri-report.pdf", letter_pdf("MRI report", 10)),
        ("consultations", "orthopaedic-letter.pdf", letter_pdf("Orthopaedic letter", 10)),
        ("imaging", "back-photo-1.jpg", photo_jpeg(rng)),
        ("imaging", "back-photo-2.jpg", photo_jpeg(rng)),
    ]
    dicom = files / "mri-l1.dcm"
    write_dicom(dicom, side=512, frames=1)
    documents.append(("imaging", "mri-l1.dcm", dicom.read_bytes()))
    for kind, name, content in documents:
        attachments.attachment_add(
            referral=referral, kind=kind, uploaded_file=_upload(name, content), by=doctor
        )
    workflow.referral_submit(referral=referral, by=doctor)

    uploader = User.objects.get(pk=people["other_referrer_ids"][1])
    drafts = [str(intake.referral_create(referrer=uploader).uuid) for _ in range(UPLOAD_DRAFTS)]
    return {
        "packet_referral_id": referral.pk,
        "packet_documents": [(kind, name, len(content)) for kind, name, content in documents],
        "uploader_email": uploader.email,
        "upload_drafts": drafts,
    }


def scenario_terms(rng: random.Random) -> dict:
    """Search terms that find something: a family name, and an open referral's Medicare number."""
    from referrals.models import Referral

    open_ones = Referral.objects.filter(status__in=Referral.OPEN_STATUSES)
    medicare = list(open_ones.order_by("?").values_list("medicare_number", flat=True)[:20])
    uuids = [str(u) for u in open_ones.order_by("?").values_list("uuid", flat=True)[:200]]
    return {"family_names": FAMILY[:10], "medicare_numbers": medicare, "open_uuids": uuids}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seed")
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--files", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    django.setup()
    from django.db import connection, transaction

    from referrals.models import Site

    started = time.perf_counter()
    rng = random.Random(args.seed)
    with transaction.atomic():
        site_ids = [Site.objects.create(name=name, address=address).pk for name, address in SITES]
        people = seed_people(rng, args.n)
        counts = seed_referrals(rng, args.n, people, site_ids)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    bulk_seconds = time.perf_counter() - started
    args.files.mkdir(parents=True, exist_ok=True)
    scenario = seed_scenario_referrals(rng, people, args.files)
    big = args.files / "mri-series-200mb.dcm"
    scenario["upload_file"] = str(big)
    scenario["upload_bytes"] = write_dicom(big, side=512, frames=UPLOAD_FRAMES)
    info = {
        "n": args.n,
        "password": PASSWORD,
        "emails": people["emails"],
        "counts": counts,
        "bulk_seconds": round(bulk_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
        **scenario,
        **scenario_terms(rng),
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
