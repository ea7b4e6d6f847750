"""Seed the bench database: N synthetic referrals by COPY, the personas, and the files.

Run by bench/run.py as `python -m bench.seed --n N --out info.json --files DIR` with
DJANGO_SETTINGS_MODULE=bench.settings, on a freshly migrated database. Every person and patient
is invented (names from short lists); Medicare, provider and IHI numbers pass their checks.
"""

import argparse
import io
import json
import os
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
TOTP_KEY = "3132333435363738393031323334353637383930"  # hex; every bench staff authenticator
WRITER_REFERRERS = 40  # referrers of the mixed load who autosave and submit
SUBMIT_DRAFTS = 6  # complete drafts each of them may submit
# Referrals made in Python (facts, eligibility, history); past these, copies made in SQL.
TEMPLATES = int(os.environ.get("BENCH_TEMPLATES") or 100_000)
ACCEPT_POOL = 4000  # submitted referrals the accept scenarios take, one each
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


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """A value in COPY's text format (psycopg's write_row does this per value, slower)."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _copy(model, rows, *, with_id: bool = False) -> int:
    """COPY dict rows (keyed by attname) into the model's table; a missing key takes the field's
    default, as the ORM would (COPY itself knows no Django defaults). Rows are written as COPY
    text in 1 MB blocks."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    # A callable default (a UUID) is called per row; the others are worked out once.
    defaults = {f.attname: f.get_default() for f in fields if not callable(f.default)}
    makers = {f.attname: f.get_default for f in fields if callable(f.default)}
    names = [f.attname for f in fields]
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            block, size = [], 0
            for row in rows:
                line = "\t".join(
                    _copy_text(
                        row[name] if name in row
                        else defaults[name] if name in defaults else makers[name]()
                    )
                    for name in names
                )  # fmt: skip
                block.append(line)
                size += len(line)
                count += 1
                if size > 1_000_000:
                    copy.write("\n".join(block) + "\n")
                    block, size = [], 0
            if block:
                copy.write("\n".join(block) + "\n")
    return count


# The tables the COPY fills. Their secondary indexes are dropped first and built again after:
# one sorted build an index instead of a million inserts into each (the trigram GIN indexes
# above all). Primary keys and unique constraints stay (they are constraints, and the COPY's
# rows must satisfy them).
BULK_TABLES = ("referrals_referral", "referrals_statusevent", "referrals_imagingstudy",
               "referrals_packet")  # fmt: skip


def drop_foreign_keys() -> list[str]:
    """Drop the bulk tables' foreign keys; return the statements that add them back.

    Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: every row COPY or INSERT ... SELECT
    writes queues a check that runs at COMMIT, one index probe a row (5 million of them at 1M,
    minutes). Added back after, each is checked once, by one join."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)",
            [list(BULK_TABLES)],
        )
        found = cursor.fetchall()
        q = connection.ops.quote_name
        for table, name, _definition in found:
            cursor.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}")
    return [f"ALTER TABLE {q(t)} ADD CONSTRAINT {q(n)} {d}" for t, n, d in found]


def drop_secondary_indexes() -> list[str]:
    """Drop the bulk tables' indexes that back no constraint; return their definitions."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) "
            "AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)",
            [list(BULK_TABLES)],
        )
        found = cursor.fetchall()
        for name, _definition in found:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return [definition for _name, definition in found]


def create_indexes(definitions: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for definition in definitions:
            cursor.execute(definition)


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
    # Staff sign in with two-factor: one authenticator each, with a key the bench client knows.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.bulk_create(
        [
            TOTPDevice(user_id=uid, name="bench", key=TOTP_KEY, confirmed=True)
            for uid in ids["admin"] + ids["radiologist"]
        ]
    )
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
    full_n, n = n, min(n, TEMPLATES)  # past TEMPLATES, copies are made in SQL (clone_referrals)
    heavy = min(HEAVY_REFERRALS, max(1, n // 10))
    owners = [people["heavy_id"]] * heavy + [
        rng.choice(people["other_referrer_ids"]) for _ in range(n - heavy)
    ]
    rng.shuffle(owners)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    rows, imaging_by_row = [], []
    for owner in owners:
        status = rng.choices(statuses, weights)[0]
        onset = today - timedelta(days=rng.randint(0, DAYS))
        created = datetime.combine(
            min(onset + timedelta(days=rng.randint(0, 10)), today),
            dtime(rng.randint(7, 18), rng.randint(0, 59), rng.randint(0, 59)),
            tzinfo=tz,
        )
        created = min(created, now - timedelta(minutes=30))
        started_on = created.astimezone(tz).date()  # nothing is dated after this
        row = {"referrer_id": owner, "status": status, "created_at": created,
               "submit_hours": rng.randint(1, 72)}  # fmt: skip
        row.update(_clinical(rng, onset))
        row["coag_profile_on"] = min(row["coag_profile_on"], started_on)
        rows.append(row)
        imaging_by_row.append(_imaging(rng, onset, started_on))
    # Ids and references follow the order referrals were started in, as in real life.
    order = sorted(range(n), key=lambda i: rows[i]["created_at"])
    rows = [rows[i] for i in order]
    imaging_by_row = [imaging_by_row[i] for i in order]

    counters: dict[int, int] = {}
    assessed_with: dict[int, tuple] = {}
    events, studies, packets = [], [], []
    t_rules = time.perf_counter()

    def referral_rows():
        for pk, (row, imaging) in enumerate(zip(rows, imaging_by_row, strict=True), start=1):
            status = row["status"]
            created = row["created_at"]
            year = created.astimezone(tz).year
            counters[year] = counters.get(year, 0) + 1
            submitted = None
            updated = created + timedelta(minutes=rng.randint(5, 90))
            eligibility = None
            outcome = reason = version = ""
            if status != "draft":
                submitted = min(created + timedelta(hours=row["submit_hours"]), now)
                assessed = assessed_with.get(id(imaging))  # a template's, evaluated once
                if assessed is None:
                    result = rules.check(
                        _facts(row, imaging),
                        today=submitted.astimezone(tz).date(),
                        coag_max_age_days=settings.COAG_PROFILE_MAX_AGE_DAYS,
                    )
                    assessed = (json.dumps(result.as_dict()), result.outcome,
                                result.criteria_version)  # fmt: skip
                    assessed_with[id(imaging)] = assessed
                eligibility, outcome, version = assessed
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
    cloned = clone_referrals(made, full_n - made, people["other_referrer_ids"])
    for model in (Referral, StatusEvent, ImagingStudy, Packet):
        _reset_sequence(model)
    if cloned:
        counters = reference_counters()
    for year, last in counters.items():
        ReferenceCounter.objects.update_or_create(year=year, defaults={"last": last})
    return {
        "referrals": made + cloned,
        "templates": made,
        "heavy_referrals": heavy,
        "events": StatusEvent.objects.count(),
        "imaging": ImagingStudy.objects.count(),
        "packets": Packet.objects.count(),
        "generate_seconds": round(rules_seconds, 1),
    }


def _medicare_sql() -> str:
    """A random Medicare card number with a valid check digit, in SQL: eight digits (the first
    2 to 6), their weighted sum mod 10 (weights 1 3 7 9 1 3 7 9), and an issue digit 1 to 9."""
    stem = "(2 + floor(random() * 5))::text || lpad(floor(random() * 10000000)::text, 7, '0')"
    weights = (1, 3, 7, 9, 1, 3, 7, 9)
    total = " + ".join(f"{w} * substr(s, {i + 1}, 1)::int" for i, w in enumerate(weights))
    # The outer row's id in the WHERE makes it a subquery run for each row (an uncorrelated
    # one would run once: one number for every copy). "%%" is a literal % beside parameters.
    return (
        f"(SELECT s || (({total}) %% 10)::text || (1 + floor(random() * 9))::text "  # noqa: S608
        f"FROM (SELECT {stem} AS s WHERE referrals_referral.id > 0) stem)"
    )


def clone_referrals(templates: int, extra: int, referrer_ids: list[int]) -> int:
    """`extra` more referrals, copies of the first `templates` (their dates, clinical facts,
    status, eligibility, history, imaging and packets) made by INSERT ... SELECT in the
    database, each with a new UUID, reference, Medicare number and a random referrer (not the
    heavy one). So a million referrals seed in minutes: Python evaluates and writes 100 000."""
    from django.db import connection

    from referrals.models import ImagingStudy, Packet, Referral, StatusEvent

    if extra <= 0:
        return 0
    q = connection.ops.quote_name

    def clone(model, offset: int, limit: int, overrides: dict, key: str):
        fields = [f for f in model._meta.concrete_fields if not f.primary_key or key == "id"]
        columns = ", ".join(q(f.column) for f in fields)
        values = ", ".join(overrides.get(f.column, q(f.column)) for f in fields)
        table = q(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {values} FROM {table} "  # noqa: S608
                f"WHERE {q(key)} <= %s",
                [limit],
            )

    referrers = "ARRAY[" + ",".join(str(int(i)) for i in referrer_ids) + "]"
    done = 0
    while done < extra:
        offset = templates + done
        limit = min(templates, extra - done)
        clone(Referral, offset, limit, {
            "id": f"id + {offset}",
            "uuid": "gen_random_uuid()",
            # lpad would cut a longer number to 5 characters: pad to at least 5 instead.
            "reference": "'VP-' || substr(reference, 4, 4) || '-' || "
                         f"lpad((id + {offset})::text, greatest(5, length((id + {offset})::text)), "
                         "'0')",
            "referrer_id": f"({referrers})[1 + floor(random() * {len(referrer_ids)})::int]",
            "medicare_number": _medicare_sql(),
        }, "id")  # fmt: skip
        for model in (StatusEvent, ImagingStudy, Packet):
            overrides = {"referral_id": f"referral_id + {offset}"}
            if model is Packet:
                overrides["uuid"] = "gen_random_uuid()"
            clone(model, offset, limit, overrides, "referral_id")
        done += limit
    return extra


def reference_counters() -> dict[int, int]:
    """The last reference number used in each year (ReferenceCounter), after cloning."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT substr(reference, 4, 4)::int, max(substr(reference, 9)::int) "
            "FROM referrals_referral GROUP BY 1"
        )
        return dict(cursor.fetchall())


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


def scenario_terms(rng: random.Random, people: dict) -> dict:
    """Search terms that find something (a family name, an open referral's Medicare number and
    reference, whole and partial), and the referrals the page and accept scenarios open."""
    from referrals.models import Referral

    open_ones = Referral.objects.filter(status__in=Referral.QUEUE_STATUSES)
    picked = list(open_ones.order_by("?").values_list("medicare_number", "reference")[:20])
    uuids = [str(u) for u in open_ones.order_by("?").values_list("uuid", flat=True)[:200]]
    submitted = [
        str(u)
        for u in Referral.objects.filter(status="submitted")
        .order_by("?")
        .values_list("uuid", flat=True)[:ACCEPT_POOL]
    ]
    review = Referral.objects.filter(status="accepted", assigned_radiologist_id=people["ir_ids"][0])
    partial = []
    for _medicare, reference in picked:
        _vp, year, number = reference.split("-")
        partial += [f"vp-{year}-{int(number)}", number]
    return {
        "family_names": FAMILY[:10],
        "medicare_numbers": [m for m, _r in picked],
        "medicare_prefixes": [m[:6] for m, _r in picked],
        "references": [r for _m, r in picked],
        "partial_references": partial,
        "open_uuids": uuids,
        "staff_uuid": submitted[0],
        "accept_uuids": submitted[1:],
        "review_uuid": str(review.values_list("uuid", flat=True).first()),
    }


def seed_writers(rng: random.Random, emails: dict, files: Path) -> dict:
    """For the writing scenarios: for each of the first WRITER_REFERRERS referrers a draft to
    autosave and complete drafts to submit; and a 2 MB PDF to upload."""
    from django.utils import timezone

    from portal.models import User
    from referrals import intake
    from referrals.models import ImagingStudy, Referral

    today = timezone.localdate()
    writers = {}
    for email in emails["referrer"][:WRITER_REFERRERS]:
        doctor = User.objects.get(email=email)
        autosave = intake.referral_create(referrer=doctor)
        to_submit = []
        for _ in range(SUBMIT_DRAFTS):
            draft = intake.referral_create(referrer=doctor)
            onset = today - timedelta(days=rng.randint(1, 20))
            clinical = _clinical(rng, onset)
            clinical["coag_profile_on"] = min(clinical["coag_profile_on"], today)
            Referral.objects.filter(pk=draft.pk).update(
                patient_given_name=rng.choice(GIVEN), patient_family_name=rng.choice(FAMILY),
                patient_dob=date(1940, 1, 2), patient_sex="female",
                medicare_number=medicare_number(rng), medicare_irn=1,
                patient_phone="0400 000 002", address_line="3 Example Street",
                suburb="Carlton", state="VIC", postcode="3053", patient_consent=True,
                **clinical,
            )  # fmt: skip
            ImagingStudy.objects.create(referral=draft, modality="MRI", acute_fracture=True,
                                        performed_on=onset, location="Example Imaging")  # fmt: skip
            to_submit.append(str(draft.uuid))
        writers[email] = {"autosave": str(autosave.uuid), "submit": to_submit}
    pdf = files / "letter-2mb.pdf"
    pdf.write_bytes(scanned_pdf(rng, 2 * 1024 * 1024))
    from referrals.models import Site

    autosave_form = {
        "patient_given_name": "Joan", "patient_family_name": "Sample",
        "patient_dob": "1941-05-02", "patient_sex": "female",
        "medicare_number": medicare_number(rng), "medicare_irn": "1", "ihi": "",
        "patient_phone": "0400 000 003", "address_line": "4 Example Street",
        "suburb": "Carlton", "state": "VIC", "postcode": "3053",
        "preferred_site": str(Site.objects.order_by("pk").values_list("pk", flat=True)[0]),
        "copy_to": "", "interpreter_language": "", "patient_consent": "on",
    }  # fmt: skip
    return {"writers": writers, "pdf_2mb": str(pdf), "pdf_2mb_bytes": pdf.stat().st_size,
            "autosave_form": autosave_form}  # fmt: skip


def scanned_pdf(rng: random.Random, size: int) -> bytes:
    """A PDF of scanned pages (a photo-like JPEG a page) of about `size` bytes."""
    from PIL import Image

    pages, total = [], 0
    while total < size:
        photo = photo_jpeg(rng, (1240, 1754))
        pages.append(Image.open(io.BytesIO(photo)))
        total += len(photo)
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=150)
    return out.getvalue()


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
        definitions = drop_secondary_indexes() + drop_foreign_keys()
        counts = seed_referrals(rng, args.n, people, site_ids)
    # After the COPY's transaction: the indexes, then the foreign keys (each checked by a join).
    copied = time.perf_counter()
    counts["copy_seconds"] = round(copied - started, 1)
    create_indexes(definitions)
    counts["index_seconds"] = round(time.perf_counter() - copied, 1)
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
        **seed_writers(rng, people["emails"], args.files),
        **scenario_terms(rng, people),
        "totp_key": TOTP_KEY,
        "ir_ids": people["ir_ids"],
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
