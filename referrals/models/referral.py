"""The referral, its patient and clinical facts, its studies and medicines; the hospital sites.
What is recorded along its way (status events, requests for information, messages) is in
referrals/models/thread.py."""

import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from eligibility import rules
from eligibility.facts import (
    CAUSE_LABELS,
    COAGULOPATHY_LABELS,
    INFECTION_LABELS,
    MODALITY_LABELS,
    OPIOID_RESPONSE_LABELS,
)


class Site(models.Model):
    """A hospital where the practice performs vertebroplasty. Managed in the Django admin."""

    name = models.CharField(max_length=200, unique=True)
    address = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)
    # The pre-procedure instructions template for a booking here (referrals/booking.py fills in
    # the medicines); printed on the booking letter.
    arrival = models.TextField(
        "arrival", blank=True,
        default="Please arrive 60 minutes before the procedure time at the hospital's "
        "admissions desk. Plan to stay for about four hours, and have someone to drive you home.",
    )  # fmt: skip
    fasting = models.TextField(
        "fasting", blank=True,
        default="Nothing to eat for 6 hours before the procedure time. Clear fluids (water, "
        "black tea or coffee) until 2 hours before. Take your usual morning medicines with a sip "
        "of water unless told otherwise below.",
    )  # fmt: skip
    what_to_bring = models.TextField(
        "what to bring", blank=True,
        default="Your Medicare card and any health fund card; a list of all your medicines; any "
        "recent X-rays, CT or MRI films not sent with the referral; glasses and hearing aids.",
    )  # fmt: skip

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ReferenceCounter(models.Model):
    """The last human reference number issued in a year (VP-2026-00042)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"


class DeclineReason(models.TextChoices):
    OUTSIDE_LEVELS = "outside_levels", "Fracture outside T11 to L2"
    NOT_OSTEOPOROTIC = "not_osteoporotic", "Not an osteoporotic fracture"
    PAIN_UNDER_7 = "pain_under_7", "Pain under 7/10"
    OPIOIDS = "opioids", "Opioids not tried, or effective"
    OVER_THREE_WEEKS = "over_three_weeks", "Pain for over three weeks"
    NO_ACUTE_IMAGING = "no_acute_imaging", "No imaging evidence of an acute fracture"
    CONTRAINDICATION = "contraindication", "A contraindication"
    OTHER = "other", "Other"


# What the referrer is told to do for the patient meanwhile, by decline reason (SPEC 9).
DECLINE_ADVICE = {
    DeclineReason.OUTSIDE_LEVELS: (
        "Fractures outside T11 to L2 are not treated under this service's criteria. Continue "
        "analgesia and osteoporosis management; a spinal surgeon or pain specialist can advise "
        "on other options."
    ),
    DeclineReason.NOT_OSTEOPOROTIC: (
        "The criteria cover osteoporotic fractures. For a traumatic fracture consider spinal "
        "surgical review; for a suspected pathological fracture, oncology or haematology "
        "review. Refer again if the picture changes."
    ),
    DeclineReason.PAIN_UNDER_7: (
        "Pain below 7/10 is usually managed conservatively: analgesia, activity as tolerated, "
        "physiotherapy and osteoporosis treatment. Refer again within three weeks of onset if "
        "the pain becomes severe despite opiates."
    ),
    DeclineReason.OPIOIDS: (
        "The criteria ask for pain poorly controlled by opiate analgesia. Consider a trial of "
        "opiates with laxatives and review; refer again within three weeks of onset if pain "
        "stays severe."
    ),
    DeclineReason.OVER_THREE_WEEKS: (
        "The criteria allow pain of three weeks or less, so this fracture is outside the "
        "window. Continue analgesia and mobilisation; start or review osteoporosis treatment "
        "to prevent further fractures. A new fracture can be referred again."
    ),
    DeclineReason.NO_ACUTE_IMAGING: (
        "An acute fracture must be shown on MRI (or SPECT-CT when MRI is contraindicated). "
        "If pain began within three weeks, arrange an MRI and refer again with the report."
    ),
    DeclineReason.CONTRAINDICATION: (
        "A contraindication (uncorrected coagulopathy, infection, canal compromise with a "
        "neurological deficit, or a healed fracture) rules the procedure out for now. Treat "
        "the cause; refer again if it resolves while the pain is still recent."
    ),
    DeclineReason.OTHER: (
        "See the practice's note. Continue analgesia and osteoporosis management, and contact "
        "the practice if you would like to discuss the patient."
    ),
}


# Each transition as the sentence the audit trail and timeline print, by (from, to) or, failing
# that, by the new status. With Referral.Status's labels, the one vocabulary of statuses: every
# page, the packet and the CSV print these, never the codes.
TRANSITION_SENTENCES = {
    ("draft", "submitted"): "Sent the referral to the practice",
    ("info_requested", "submitted"): "Answered the request for more information",
    ("booked", "approved"): "Cancelled the booking to rebook",
    "draft": "Started the referral",
    "submitted": "Sent the referral to the practice",
    "info_requested": "Requested more information",
    "accepted": "Accepted the referral and assigned an interventional radiologist",
    "approved": "Found the patient suitable",
    "booked": "Booked the procedure",
    "completed": "Recorded the procedure as completed",
    "declined": "Declined the referral",
    "withdrawn": "Withdrew the referral",
}


def transition_sentence(from_status: str, to_status: str) -> str:
    return TRANSITION_SENTENCES.get(
        (from_status, to_status), TRANSITION_SENTENCES.get(to_status, "Changed the status")
    )


class Referral(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        INFO_REQUESTED = "info_requested", "Information requested"
        ACCEPTED = "accepted", "Awaiting IR review"
        APPROVED = "approved", "Approved by the IR"
        BOOKED = "booked", "Booked"
        COMPLETED = "completed", "Completed"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    OPEN_STATUSES = (
        Status.SUBMITTED,
        Status.INFO_REQUESTED,
        Status.ACCEPTED,
        Status.APPROVED,
        Status.BOOKED,
    )
    # The queue's "Open": waiting on the practice. Booked and completed ones are not; they have
    # their own filters (issue 16).
    QUEUE_STATUSES = (
        Status.SUBMITTED,
        Status.INFO_REQUESTED,
        Status.ACCEPTED,
        Status.APPROVED,
    )

    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Another term"
        NOT_STATED = "not_stated", "Not stated"

    class State(models.TextChoices):
        ACT = "ACT", "ACT"
        NSW = "NSW", "NSW"
        NT = "NT", "NT"
        QLD = "QLD", "QLD"
        SA = "SA", "SA"
        TAS = "TAS", "TAS"
        VIC = "VIC", "VIC"
        WA = "WA", "WA"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=20, unique=True, editable=False)
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrals"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    assigned_radiologist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_referrals",
    )

    # Patient
    patient_given_name = models.CharField("given name", max_length=100, blank=True)
    patient_family_name = models.CharField("family name", max_length=100, blank=True)
    patient_dob = models.DateField("date of birth", null=True, blank=True)
    patient_sex = models.CharField("sex", max_length=12, choices=Sex.choices, blank=True)
    medicare_number = models.CharField("Medicare card number", max_length=10, blank=True)
    medicare_irn = models.PositiveSmallIntegerField("reference number (IRN)", null=True, blank=True)
    ihi = models.CharField("IHI", max_length=16, blank=True)
    patient_phone = models.CharField("phone", max_length=30, blank=True)
    address_line = models.CharField("street address", max_length=200, blank=True)
    suburb = models.CharField("suburb or town", max_length=100, blank=True)
    state = models.CharField(max_length=3, choices=State.choices, blank=True)
    postcode = models.CharField(max_length=4, blank=True)
    interpreter_needed = models.BooleanField(default=False)
    interpreter_language = models.CharField(max_length=100, blank=True)
    patient_consent = models.BooleanField(default=False)

    # Referral details
    preferred_site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    copy_to = models.CharField("copy to (optional)", max_length=300, blank=True)

    # Clinical facts: the eligibility contract's facts as real fields (None = not known). Their
    # choices are eligibility.facts' values and words, so the two cannot drift apart.
    levels = models.JSONField(default=list, blank=True)
    cause = models.CharField(max_length=20, choices=CAUSE_LABELS, blank=True)
    pain_score = models.PositiveSmallIntegerField(null=True, blank=True)
    pain_onset = models.DateField(null=True, blank=True)
    opioid_response = models.CharField(max_length=20, choices=OPIOID_RESPONSE_LABELS, blank=True)
    mri_contraindicated = models.BooleanField(null=True, blank=True)
    mri_contraindication_reason = models.CharField(max_length=300, blank=True)
    coagulopathy = models.CharField(max_length=20, choices=COAGULOPATHY_LABELS, blank=True)
    infection = models.CharField(max_length=20, choices=INFECTION_LABELS, blank=True)
    canal_compromise = models.BooleanField(null=True, blank=True)
    neurological_deficit = models.BooleanField(null=True, blank=True)
    healed_fracture = models.BooleanField(null=True, blank=True)
    anticoagulation_reviewed = models.BooleanField(null=True, blank=True)
    coag_profile_on = models.DateField(null=True, blank=True)
    inr = models.DecimalField("INR", max_digits=4, decimal_places=2, null=True, blank=True)
    platelets = models.PositiveIntegerField("platelets (×10⁹/L)", null=True, blank=True)
    history = models.TextField("clinical history", blank=True)
    current_analgesia = models.TextField(blank=True)
    allergies = models.TextField(blank=True)
    osteoporosis_treatment = models.TextField(blank=True)

    # How it came: the web form, or a secure message (HL7 REF^I12, referrals/hl7/) from the
    # doctor's clinical software, sent by the referrer record below (linked to an account or not).
    class Source(models.TextChoices):
        WEB = "web", "Web form"
        HL7 = "hl7", "Secure message"

    source = models.CharField(max_length=4, choices=Source.choices, default=Source.WEB)
    external_referrer = models.ForeignKey(
        "referrals.ExternalReferrer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals",
    )
    # RF1-2 and RF1-10 of a secure message (the web form asks neither).
    priority = models.CharField(max_length=20, blank=True)
    referral_reason = models.TextField("reason for referral", blank=True)
    # Clinical facts the practice's staff filled in from the letter: {field: "email, date"}.
    staff_entered = models.JSONField(default=dict, blank=True)

    # Raw input of sections that did not validate yet, so nothing typed is ever lost.
    draft_data = models.JSONField(default=dict, blank=True)

    # Stored at submission: the result it was assessed with, never recomputed.
    eligibility = models.JSONField(null=True, blank=True)
    eligibility_outcome = models.CharField(max_length=12, blank=True)
    criteria_version = models.CharField(max_length=20, blank=True)
    outside_criteria_reason = models.TextField(blank=True)
    possible_duplicate = models.BooleanField(default=False)

    # The practice's decisions.
    decline_reason = models.CharField(max_length=24, choices=DeclineReason.choices, blank=True)
    decline_note = models.TextField(blank=True)
    booked_start = models.DateTimeField("procedure date and time", null=True, blank=True)
    booking_site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The pre-procedure instructions as made for this booking (a later edit of the site's
    # template does not rewrite a letter already sent): [{"heading", "text"}].
    booking_instructions = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The referrer answered a request for information and no one at the practice has acted
    # since: "Answered: needs review" on the queue, the reviews and the referral page.
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The queue's "Answered: needs review" filter: WHERE answered_at IS NOT NULL (few).
            models.Index(
                fields=["answered_at"],
                name="referral_answered_idx",
                condition=models.Q(answered_at__isnull=False),
            ),  # fmt: skip
            # The referrer's dashboard: WHERE referrer_id = ? ORDER BY updated_at DESC.
            models.Index(fields=["referrer", "-updated_at"], name="referral_dashboard_idx"),
            # Duplicate check: WHERE medicare_number = ? AND status IN (open statuses).
            models.Index(fields=["medicare_number", "status"], name="referral_medicare_idx"),
            # The queue for one status, open windows (selectors.triage_queue, first part):
            # WHERE status = ? AND pain_onset >= ? ORDER BY pain_onset, submitted_at.
            models.Index(
                fields=["status", "pain_onset", "submitted_at"], name="referral_queue_idx"
            ),
            # The queue for one status, closed windows and no onset (its second and third
            # parts): WHERE status = ? AND (pain_onset < ? | IS NULL) ORDER BY submitted_at, id.
            models.Index(fields=["status", "submitted_at", "id"], name="referral_status_recv_idx"),
            # The default queue ("Open": QUEUE_STATUSES), open windows: WHERE status IN (queue)
            # AND pain_onset >= ? ORDER BY pain_onset, submitted_at, id; and the capped counts of
            # all three parts (pain_onset >= ?, < ?, IS NULL), index-only. The names are
            # included (PostgreSQL) so that a name search's count and page ids are index-only
            # too, the names checked in the index: at 1M the trigram bitmap's rows were a
            # thousand random table pages a search (selectors.TriageQueue).
            models.Index(
                fields=["pain_onset", "submitted_at", "id"],
                condition=Q(status__in=["submitted", "info_requested", "accepted", "approved"]),
                include=["patient_family_name", "patient_given_name"],
                name="referral_waiting_queue_idx",
            ),
            # The default queue, closed windows and no onset: WHERE status IN (queue) AND
            # pain_onset < ? ORDER BY submitted_at, id (a walk that stops after a page); the
            # names included as above.
            models.Index(
                fields=["submitted_at", "id"],
                condition=Q(status__in=["submitted", "info_requested", "accepted", "approved"]),
                include=["patient_family_name", "patient_given_name"],
                name="referral_waiting_recv_idx",
            ),
            # The queue filtered by status and outcome, open windows: WHERE status = ? AND
            # eligibility_outcome = ? AND pain_onset >= ? ORDER BY pain_onset, submitted_at, id,
            # and its capped counts (all three parts), index-only. (It was (status, outcome):
            # at 1M its page and count read every submitted referral's row to check the date.)
            models.Index(
                fields=["status", "eligibility_outcome", "pain_onset", "submitted_at", "id"],
                name="referral_outcome_queue_idx",
            ),
            # "My reviews": WHERE assigned_radiologist_id = ? AND status IN (...); and the filter
            # bar's radiologist filter.
            models.Index(fields=["assigned_radiologist", "status"], name="referral_reviews_idx"),
            # Search by a whole or partial Medicare number (selectors._search):
            # medicare_number::text LIKE '2950%'. The database collation is not "C", so only a
            # pattern-ops btree serves a prefix LIKE.
            models.Index(
                fields=["medicare_number"],
                opclasses=["varchar_pattern_ops"],
                name="referral_medicare_prefix_idx",
            ),
            # Duplicate check by name and birth date (selectors.possible_duplicates):
            # UPPER(family)::text = UPPER(?) AND patient_dob = ?, as iexact is written.
            models.Index(
                Upper("patient_family_name"), "patient_dob", name="referral_name_dob_upper_idx"
            ),
            # Search by a whole or partial reference (selectors._search) is reference::text LIKE
            # 'VP-2026-0004%': served by the varchar_pattern_ops index Django adds beside the
            # unique one (referrals_referral_reference_..._like) on PostgreSQL.
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(pain_score__isnull=True) | Q(pain_score__lte=10),
                name="referral_pain_score_0_10",
            ),
            models.CheckConstraint(
                condition=Q(medicare_irn__isnull=True)
                | (Q(medicare_irn__gte=1) & Q(medicare_irn__lte=9)),
                name="referral_irn_1_9",
            ),
        ]

    def __str__(self):
        return self.reference

    def validate_constraints(self, exclude=None):
        # Django skips a check constraint that reads a field left out of validation (a form's
        # section leaves out the others), but only after building the constraint's query: a
        # third of an autosave's form time. When every one would be skipped, none is built.
        exclude = set(exclude or ())

        def skipped(constraint) -> bool:
            return isinstance(constraint, models.CheckConstraint) and bool(
                Q(constraint.condition).referenced_base_fields & exclude
            )

        if exclude and all(skipped(c) for c in self._meta.constraints):
            return
        super().validate_constraints(exclude=exclude)

    @property
    def patient_name(self) -> str:
        return " ".join(p for p in (self.patient_given_name, self.patient_family_name) if p)

    @property
    def window_closes_on(self) -> date | None:
        """The criteria allow pain of three weeks or less: the window closes 21 days after onset."""
        if self.pain_onset is None:
            return None
        return self.pain_onset + timedelta(days=rules.WINDOW_DAYS)

    def patient_age(self, on: date) -> int | None:
        dob = self.patient_dob
        if dob is None:
            return None
        return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))

    @property
    def decline_advice(self) -> str:
        """What the referrer is told to do for the patient, for the reason it was declined."""
        return DECLINE_ADVICE.get(self.decline_reason, "")

    @property
    def by_secure_message(self) -> bool:
        return self.source == self.Source.HL7

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class ImagingStudy(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="imaging")
    modality = models.CharField(max_length=10, choices=MODALITY_LABELS)
    performed_on = models.DateField("date", null=True, blank=True)
    acute_fracture = models.BooleanField("acute fracture seen", null=True, blank=True)
    location = models.CharField("where performed", max_length=200, blank=True)

    class Meta:
        ordering = ["performed_on", "id"]
        verbose_name_plural = "imaging studies"

    def __str__(self):
        return f"{self.get_modality_display()} {self.performed_on or ''}".strip()


class Medicine(models.Model):
    class Kind(models.TextChoices):
        ANTICOAGULANT = "anticoagulant", "Anticoagulant"
        ANTIPLATELET = "antiplatelet", "Antiplatelet"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="medicines")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField("medicine", max_length=100)
    dose = models.CharField(max_length=100, blank=True)
    plan = models.CharField("plan before the procedure", max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name
