"""The referrer's draft: create it, save a section as the doctor types, what submission needs,
and the eligibility facts its fields make (assessed by eligibility/)."""

from datetime import date

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.forms import ModelForm
from django.utils import timezone

from eligibility.rules import FactsError, Result
from eligibility.service import eligibility_assess
from portal.audit import audit_record
from referrals.errors import TransitionNotAllowed
from referrals.models import ReferenceCounter, Referral, StatusEvent

S = Referral.Status


# --- references ---------------------------------------------------------------------------------


def _increment(year: int) -> int | None:
    """The year's counter, one up; None if the year has no row yet."""
    if connection.vendor == "postgresql":  # one statement: UPDATE ... RETURNING
        with connection.cursor() as cursor:
            cursor.execute(
                'UPDATE "referrals_referencecounter" SET "last" = "last" + 1 '
                'WHERE "year" = %s RETURNING "last"',
                [year],
            )
            row = cursor.fetchone()
        return row[0] if row else None
    if ReferenceCounter.objects.filter(year=year).update(last=F("last") + 1):
        return ReferenceCounter.objects.get(year=year).last
    return None


def _next_reference(year: int) -> str:
    """VP-YYYY-NNNNN, sequential per year; safe under concurrency (one UPDATE takes a row lock)."""
    for _attempt in range(3):
        with transaction.atomic():
            number = _increment(year)
            if number is not None:
                return f"VP-{year}-{number:05d}"
            try:
                with transaction.atomic():
                    ReferenceCounter.objects.create(year=year, last=1)
                return f"VP-{year}-00001"
            except IntegrityError:
                continue  # another request created the year's row first: increment it instead
    raise RuntimeError("could not allocate a referral reference")


def referral_next_reference() -> str:
    """A new reference, committed on its own when called outside a transaction: the counter's
    row is locked only for that moment, not for the whole of a long transaction that follows.

    On PostgreSQL, outside a transaction, that is one UPDATE ... RETURNING in autocommit: the
    row is locked only while the server runs the statement and commits it. (In a transaction
    of its own, the lock was held until the thread came back to commit; in the HL7 receivers,
    which run many threads, a thread holding it could wait for Python's lock for tens of
    milliseconds, and every other message waited behind it.) A step used by a referral whose
    own transaction then fails is a gap in the numbers, as before."""
    year = timezone.localdate().year
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        number = _increment(year)
        if number is not None:
            return f"VP-{year}-{number:05d}"
    with transaction.atomic():
        return _next_reference(year)


def referral_create(*, referrer) -> Referral:
    with transaction.atomic():
        reference = _next_reference(timezone.localdate().year)
        referral = Referral.objects.create(referrer=referrer, reference=reference)
        StatusEvent.objects.create(
            referral=referral, from_status="", to_status=S.DRAFT, by=referrer, note=""
        )
    return referral


# --- eligibility --------------------------------------------------------------------------------


def referral_facts(referral: Referral, *, studies=None) -> dict:
    """The eligibility contract's facts from the referral's saved fields (None = not known).
    `studies`: its imaging studies when the caller has them (a referral not yet saved has none
    to read), else they are read."""
    imaging = [
        {
            "modality": study.modality,
            "performed_on": study.performed_on.isoformat() if study.performed_on else None,
            "acute_fracture": study.acute_fracture,
        }
        for study in (referral.imaging.all() if studies is None else studies)
    ]
    facts = {
        "levels": list(referral.levels or []),
        "cause": referral.cause or None,
        "pain_score": referral.pain_score,
        "pain_onset": referral.pain_onset.isoformat() if referral.pain_onset else None,
        "opioid_response": referral.opioid_response or None,
        "imaging": imaging or None,
        "mri_contraindicated": referral.mri_contraindicated,
        "coagulopathy": referral.coagulopathy or None,
        "infection": referral.infection or None,
        "canal_compromise": referral.canal_compromise,
        "neurological_deficit": referral.neurological_deficit,
        "healed_fracture": referral.healed_fracture,
        "coag_profile_on": (
            referral.coag_profile_on.isoformat() if referral.coag_profile_on else None
        ),
        "anticoagulation_reviewed": referral.anticoagulation_reviewed,
    }
    return {key: value for key, value in facts.items() if value is not None}


# How each fact reads in a sentence about the form ("The date pain began is after today").
FACT_WORDS = {
    "pain_onset": "The date pain began",
    "coag_profile_on": "The date of the latest coagulation profile",
    "performed_on": "The imaging date",
}
# The form field that holds each fact, for the error summary's links.
FACT_FIELDS = {"performed_on": "imaging"}


def fact_problems(error: FactsError) -> list[tuple[str, str]]:
    """(field, message) for each saved fact the checker refused, in words for the doctor."""
    problems = []
    for path, message in error.errors.items():
        name = path.rsplit(".", 1)[-1].split("[", 1)[0]
        what = FACT_WORDS.get(name, name.replace("_", " ").capitalize())
        if message == "is after assessed_on":
            message = "is after today: check it"
        problems.append((FACT_FIELDS.get(name, name), f"{what} {message}."))
    return problems


def referral_assess(referral: Referral, *, today: date | None = None, studies=None) -> Result:
    """The live assessment of a referral's saved facts. Raises FactsError when a saved fact is
    one the checker refuses (a date now after the day assessed): fact_problems words it."""
    return eligibility_assess(referral_facts(referral, studies=studies), today=today)


def referral_assessment(
    referral: Referral, *, today: date | None = None
) -> tuple[Result | None, list[tuple[str, str]]]:
    """For pages that show the criteria: the result, or None and the facts to correct."""
    try:
        return referral_assess(referral, today=today), []
    except FactsError as exc:
        return None, fact_problems(exc)


# --- what submission needs ----------------------------------------------------------------------

# What the practice needs before a referral can be sent (shown in the form with an asterisk).
REQUIRED_TO_SUBMIT = {
    "patient_given_name": ("patient", "the patient's given name"),
    "patient_family_name": ("patient", "the patient's family name"),
    "patient_dob": ("patient", "the patient's date of birth"),
    "patient_sex": ("patient", "the patient's sex"),
    "medicare_number": ("patient", "the Medicare card number"),
    "medicare_irn": ("patient", "the Medicare reference number (IRN)"),
    "patient_phone": ("patient", "the patient's phone number"),
    "address_line": ("patient", "the patient's street address"),
    "suburb": ("patient", "the patient's suburb or town"),
    "state": ("patient", "the patient's state"),
    "postcode": ("patient", "the patient's postcode"),
    "levels": ("clinical", "the fracture level or levels"),
    "cause": ("clinical", "the cause of the fracture"),
    "pain_score": ("clinical", "the pain score"),
    "pain_onset": ("clinical", "the date pain began"),
}


def referral_missing_for_submit(referral: Referral) -> list[tuple[str, str, str]]:
    """(section, field, message) for everything still needed before submitting."""
    missing = [
        (section, field, f"Add {label}.")
        for field, (section, label) in REQUIRED_TO_SUBMIT.items()
        if getattr(referral, field) in (None, "", [])
    ]
    if referral.interpreter_needed and not referral.interpreter_language:
        missing.append(("patient", "interpreter_language", "Say which language to interpret."))
    if not referral.patient_consent:
        missing.append(
            ("patient", "patient_consent", "Confirm the patient consents to this referral.")
        )
    for section in referral.draft_data or {}:
        missing.append((section, "", f"Correct the errors in the {section} section."))
    return missing


# --- the draft ------------------------------------------------------------------------------------


def referral_can_edit(referral: Referral) -> bool:
    """The referrer edits a draft, and a referral the practice has asked more about."""
    return referral.status in (S.DRAFT, S.INFO_REQUESTED)


def changed_field_names(form) -> list[str]:
    """What a section's save changed, as the form labels it ("pain score", "imaging studies")."""
    if hasattr(form, "imaging"):  # the imaging section: two formsets
        parts = (("imaging studies", form.imaging), ("medicines", form.medicines))
        return [name for name, part in parts if part.has_changed()]
    names = []
    for name in form.changed_data:
        label = str(form.fields[name].label or name).removesuffix(" *").rstrip("?")
        # "Pain score now" reads "pain score now" mid-sentence; "INR" stays "INR".
        names.append(label if label[1:2].isupper() else label[:1].lower() + label[1:])
    return names


def referral_save_section(*, referral: Referral, section: str, form) -> bool:
    """Save a section from its validated form. Input that does not validate yet is kept as the
    form gives it (`form.raw_input()`) in draft_data, so nothing typed is lost.

    Returns True when the section validated and was saved to the referral's fields.
    """
    if not referral_can_edit(referral):
        raise TransitionNotAllowed("This referral can no longer be changed.")
    draft = dict(referral.draft_data or {})
    if form.is_valid():
        draft_changed = draft.pop(section, None) is not None
        if not (form.has_changed() or draft_changed):
            return True  # an autosave that changed nothing writes nothing
        with transaction.atomic():
            if isinstance(form, ModelForm) and form.instance is referral:
                # The section's changed fields and the draft in one UPDATE of those columns
                # only: an autosave of one section never writes back another section's
                # columns as this request read them (two tabs, or two quick saves, keep both).
                referral.draft_data = draft
                columns = [name for name in form.changed_data if name in form._meta.fields]
                form.save(commit=False)  # the cleaned values onto the referral
                referral.save(update_fields=[*columns, "draft_data", "updated_at"])
            else:
                form.save()
                Referral.objects.filter(pk=referral.pk).update(
                    draft_data=draft, updated_at=timezone.now()
                )
            if form.has_changed():
                # The names of the fields changed, never their values (SPEC 10).
                audit_record(
                    action="referral_changed",
                    referral=referral,
                    actor=referral.referrer,
                    detail=f"{section} edited: {', '.join(changed_field_names(form))}",
                )
        referral.draft_data = draft
        return True
    draft[section] = form.raw_input()
    Referral.objects.filter(pk=referral.pk).update(draft_data=draft, updated_at=timezone.now())
    referral.draft_data = draft
    return False
