"""Account forms (sign-in, sign-up, password reset) and the error summary every page uses."""

import logging

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from portal.models import PracticeProfile, User, normalise_email
from portal.validators import normalise_provider_number, validate_provider_number

logger = logging.getLogger(__name__)


def axes_username(request, credentials=None) -> str:
    """AXES_USERNAME_CALLABLE: django-axes counts failures and locks on the normalised email,
    the same account whatever case and spacing are typed."""
    if credentials:
        return normalise_email(credentials.get("username"))
    return normalise_email(getattr(request, "POST", {}).get("username"))


class EmailAuthenticationForm(AuthenticationForm):
    """Sign-in by email address; the error does not say which of the two was wrong."""

    username = forms.EmailField(
        label="Email address",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email address and password do not match an account. "
        "Passwords are case-sensitive.",
    }

    def clean_username(self):
        # Normalised before authenticate(), so the lockout counts this account's failures
        # together whatever case and spacing were typed.
        return normalise_email(self.cleaned_data.get("username"))


class EmailPasswordResetForm(PasswordResetForm):
    """ "Forgot password?": the address normalised like every other, and a mail server that is
    down logged (without the address) rather than shown as an error, which would tell the
    visitor that the address has an account."""

    def clean_email(self):
        return normalise_email(self.cleaned_data.get("email"))

    def save(self, **kwargs):
        kwargs["extra_email_context"] = {
            **(kwargs.get("extra_email_context") or {}),
            "site_url": settings.SITE_URL,
            "practice": PracticeProfile.load(),
        }
        super().save(**kwargs)

    def send_mail(self, *args, **kwargs):
        try:
            super().send_mail(*args, **kwargs)
        except Exception:
            logger.exception("a password reset email could not be sent")


def error_summary(form) -> list[tuple[str, str]]:
    """(field id, message) for a page's error summary, each message led by its field's label.
    A form made of formsets gives its own (`errors_summary`)."""
    if hasattr(form, "errors_summary"):
        return form.errors_summary
    summary = []
    for name, errors in form.errors.items():
        field_id = form[name].id_for_label if name in form.fields else ""
        label = form.fields[name].label.rstrip(" *") if name in form.fields else ""
        for error in errors:
            summary.append((field_id, f"{label}: {error}" if label else error))
    return summary


class SignupForm(forms.Form):
    """A referring doctor asks for an account; the practice approves it before they can submit."""

    first_name = forms.CharField(label="Given name", max_length=150)
    last_name = forms.CharField(label="Family name", max_length=150)
    email = forms.EmailField(label="Email address", help_text="You will sign in with this.")
    password1 = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; not a common password.",
    )
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    provider_number = forms.CharField(
        label="Medicare provider number",
        max_length=12,
        help_text="For the practice you refer from, e.g. 2123456Y.",
    )
    practice_name = forms.CharField(label="Practice", max_length=200)
    address = forms.CharField(label="Practice address", max_length=300)
    phone = forms.CharField(label="Practice phone", max_length=30)

    def clean_email(self):
        # Whether an account has this address is never said here (see referrer_signup).
        return normalise_email(self.cleaned_data["email"])

    def clean_provider_number(self):
        number = normalise_provider_number(self.cleaned_data["provider_number"])
        validate_provider_number(number)
        return number

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            candidate = User(
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                validate_password(p1, candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class PracticeProfileForm(forms.ModelForm):
    class Meta:
        model = PracticeProfile
        fields = ["name", "urgent_phone", "fax", "address", "hours"]
        help_texts = {
            "urgent_phone": "Shown to referring doctors for a patient who cannot wait.",
            "hours": "For example: Monday to Friday, 8 am to 5 pm.",
        }
