import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models

from portal.validators import validate_provider_number


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
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
        # Emails are stored lower-case; sign-in accepts any case.
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


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

    def __str__(self):
        return self.get_full_name() or self.email


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
