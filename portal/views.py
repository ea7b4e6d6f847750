"""Account pages (sign-in, password reset, sign-up), each role's landing, and health."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django_ratelimit.core import is_ratelimited

from portal.audit import audit_record
from portal.context_processors import practice_identity
from portal.forms import (
    EmailAuthenticationForm,
    EmailPasswordResetForm,
    PracticeProfileForm,
    SignupForm,
    error_summary,
)
from portal.models import AuditEvent, PracticeProfile
from portal.roles import ADMIN, LANDING, role_required, user_roles
from portal.services import referrer_signup

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    """ "Forgot password?": an email with a link that expires (PASSWORD_RESET_MINUTES). Every
    request gets the same answer, whether or not the address has an account; a burst of them
    (PASSWORD_RESET_RATE per address typed and per client address) sends nothing more."""

    form_class = EmailPasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs),
                "timeout_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}  # fmt: skip

    def form_valid(self, form):
        if self._limited(form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)

    def _limited(self, email: str) -> bool:
        rate = settings.PASSWORD_RESET_RATE
        try:
            by_address = is_ratelimited(
                self.request, group="password_reset_ip", key="ip", rate=rate, increment=True
            )
            by_email = is_ratelimited(
                self.request,
                group="password_reset_email",
                key=lambda _group, _request: email,
                rate=rate,
                increment=True,
            )
        except Exception:
            logger.warning("password reset rate not checked: the cache is unavailable")
            return False
        return by_address or by_email


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link's page. A new password ends every other session (Django's session hash) but
    does not sign in, and does not lift a lockout: failed sign-ins still count."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            request=self.request,
            action=AuditEvent.Action.ACCOUNT_CHANGED,
            actor=form.user,
            detail="password reset by email link",
        )
        return response


def home(request):
    """Send each person to the page for their role."""
    if not request.user.is_authenticated:
        return redirect("login")
    roles = user_roles(request.user)
    for role, url_name in LANDING.items():
        if role in roles:
            return redirect(url_name)
    if request.user.is_superuser:
        return redirect("admin:index")
    return render(request, "portal/no_role.html", status=403)


def practice_css(request):
    """The practice's colours (PRACTICE_COLOUR) as CSS custom properties: a stylesheet, since
    the Content Security Policy allows no inline style."""
    identity = practice_identity()
    body = (
        f":root {{ --portal-colour: {identity['colour']}; "
        f"--portal-on-colour: {identity['text_colour']}; }}\n"
    )
    response = HttpResponse(body, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def signup(request):
    """A referring doctor asks for an account. Every valid request gets the same answer, and
    an email, whether or not the address already has an account (see referrer_signup)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        referrer_signup(
            email=data["email"],
            password=data["password1"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            provider_number=data["provider_number"],
            practice_name=data["practice_name"],
            address=data["address"],
            phone=data["phone"],
        )
        return redirect("signup_done")
    return render(
        request, "registration/signup.html", {"form": form, "error_summary": error_summary(form)}
    )


def signup_done(request):
    return render(request, "registration/signup_done.html")


@role_required(ADMIN)
def practice_profile(request):
    """The practice's contact details, edited by its admins; referrers see them on every
    referral page and in every email."""
    profile = PracticeProfile.load()
    form = PracticeProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        if form.has_changed():
            form.save()
            audit_record(request=request, action="practice_changed",
                         detail=", ".join(form.changed_data))  # fmt: skip
        messages.success(request, "The practice's contact details are saved.")
        return redirect("practice_profile")
    return render(
        request,
        "portal/practice_profile.html",
        {"form": form, "error_summary": error_summary(form)},
        status=400 if form.is_bound else 200,
    )
