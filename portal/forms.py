import logging

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from portal.models import normalise_email

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
        }
        super().save(**kwargs)

    def send_mail(self, *args, **kwargs):
        try:
            super().send_mail(*args, **kwargs)
        except Exception:
            logger.exception("a password reset email could not be sent")
