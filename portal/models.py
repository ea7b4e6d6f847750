"""Accounts: the user (signing in by email), the referrer's profile, the audit trail's events."""

import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Trim

from portal.validators import validate_provider_number


def normalise_email(value: object) -> str:
    """The one form of an email address the portal stores, signs in with, locks out on and
    looks up for sign-up and password reset: surrounding spaces trimmed, lower-cased.

    Every way in (sign-in, the lockout's count, sign-up, password reset, the Django admin)
    goes through this, so "GP@Clinic.example " is one account with one failure count.
    """
    return str(value or "").strip().lower()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        email = normalise_email(email)
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        # Emails are stored normalised (a constraint keeps them so): an equality the unique
        # index serves, whatever case and spacing were typed.
        return self.get(**{self.model.USERNAME_FIELD: normalise_email(username)})


class User(AbstractUser):
    """A person who signs in with an email address. Roles are groups (portal.roles)."""

    username = None
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["last_name", "first_name", "email"]
        constraints = [
            # Stored as normalise_email makes it, so no two accounts differ only in case or
            # spacing, whatever wrote the row.
            models.CheckConstraint(
                condition=Q(email=Lower(Trim("email"))),
                name="portal_user_email_normalised",
                violation_error_message="Email addresses are stored trimmed and lower-case.",
            ),
            models.UniqueConstraint(
                Lower("email"),
                name="portal_user_email_lower_unique",
                violation_error_message="An account with this email address already exists.",
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    @classmethod
    def normalize_username(cls, username):
        # Called by AbstractBaseUser.clean(), so the admin's forms store the normal form too.
        return normalise_email(username)

    def clean(self):
        super().clean()
        self.email = normalise_email(self.email)


class ReferrerProfile(models.Model):
    """What a referring doctor's referrals carry about them."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="referrer_profile")
    provider_number = models.CharField(
        "Medicare provider number",
        max_length=8,
        validators=[validate_provider_number],
        help_text="Six digits, a location character and a check character, e.g. 2123456Y.",
    )
    practice_name = models.CharField("practice", max_length=200)
    address = models.CharField("practice address", max_length=300)
    phone = models.CharField("practice phone", max_length=30)
    # Sign-up creates an unapproved profile; a practice admin approves it before the doctor
    # can submit referrals.
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.user} ({self.practice_name})"

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None


class AuditEventQuerySet(models.QuerySet):
    """Bulk writes that would rewrite history are refused; `bulk_create` (appending) is fine."""

    def update(self, **kwargs):
        raise PermissionError("The audit trail is append-only")

    def delete(self):
        raise PermissionError("The audit trail is append-only")

    def bulk_update(self, objs, fields, batch_size=None):
        # Refused before Django's own bulk_update opens a transaction that the error would spoil.
        raise PermissionError("The audit trail is append-only")


class AuditEvent(models.Model):
    """One thing someone did: who, when, what, from where. Rows are written once, never changed.

    Written through portal.audit.audit_record. Holds no clinical text: `detail` is for statuses
    and names of things ("submitted → accepted"), never a note or a patient's details.
    """

    class Action(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
        SIGN_OUT = "sign_out", "Signed out"
        REFERRAL_VIEWED = "referral_viewed", "Viewed the referral"
        DOCUMENT_DOWNLOADED = "document_downloaded", "Downloaded a document"
        PACKET_DOWNLOADED = "packet_downloaded", "Downloaded a packet"
        REFERRAL_CHANGED = "referral_changed", "Changed the referral"
        REFERRAL_TRANSITION = "referral_transition", "Changed the status"
        MESSAGE_SENT = "message_sent", "Sent a message"
        ACCOUNT_CHANGED = "account_changed", "Changed an account"
        REFERRAL_REASSIGNED = "referral_reassigned", "Reassigned the referral"
        PRACTICE_CHANGED = "practice_changed", "Changed the practice's contact details"
        DOCUMENT_PRINTED = "document_printed", "Downloaded a summary or letter"

    # Serves the admin's change list, newest first.
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT: a person with a history is deactivated, never deleted. Null for a failed sign-in
    # and for anything done without a signed-in user.
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    # The user's email at the time, or what was typed at a failed sign-in: kept as it was even
    # if the account's email changes later.
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    # No single-column index: the (referral, at) index below serves lookups by referral,
    # including the PROTECT check when a referral would be deleted.
    referral = models.ForeignKey(
        "referrals.Referral",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,
    )
    object_repr = models.CharField("object", max_length=200, blank=True)
    detail = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField("address", null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The per-referral audit page (portal.audit.referral_audit): one referral's
            # events, newest first.
            models.Index(fields=["referral", "at"], name="portal_audit_referral_at_idx"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} by {self.actor_email or 'anonymous'}"

    def save(self, **kwargs):
        """Insert only: an existing row is never updated."""
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise PermissionError("The audit trail is append-only")
        # Without this, an unsaved instance given an existing id would be saved as an UPDATE.
        kwargs["force_insert"] = True
        super().save(**kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only")


class PracticeProfile(models.Model):
    """The practice's contact details, one row for the whole portal (pk 1): shown to referrers
    on every referral page and in every email's footer. Its first values come from settings
    (PRACTICE_*); the practice's admins edit it at /practice/."""

    name = models.CharField(max_length=200)
    urgent_phone = models.CharField("phone for urgent cases", max_length=40)
    fax = models.CharField(max_length=40, blank=True)
    address = models.CharField(max_length=300, blank=True)
    hours = models.CharField("opening hours", max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "practice contact details"
        verbose_name_plural = "practice contact details"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="practice_profile_one_row")]

    def __str__(self):
        return self.name

    @property
    def contact_line(self) -> str:
        """One line under the practice's name (sign-in page, the packet's cover)."""
        parts = [self.address] if self.address else []
        parts.append(f"Urgent cases {self.urgent_phone}")
        if self.fax:
            parts.append(f"Fax {self.fax}")
        return " · ".join(parts)

    @classmethod
    def load(cls) -> "PracticeProfile":
        """The one row, made from the settings' defaults the first time it is needed."""
        from django.conf import settings

        profile, _ = cls.objects.get_or_create(
            pk=1,
            defaults={
                "name": settings.PRACTICE_NAME,
                "urgent_phone": settings.PRACTICE_URGENT_PHONE,
                "fax": settings.PRACTICE_FAX,
                "address": settings.PRACTICE_ADDRESS,
                "hours": settings.PRACTICE_HOURS,
            },
        )
        return profile
