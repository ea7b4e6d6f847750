"""Two-factor sign-in with an authenticator app (TOTP, django-otp) and backup codes.

Enrolment shows a QR code and the key; a code from the app confirms it; ten single-use backup
codes are shown once. A lost device is reset by a superuser (an audited admin action on users).
"""

import base64
import io
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.audit import audit_record

BACKUP_CODES = 10


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),  # fmt: skip
    )


def _next(request, default="home"):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@login_required
def otp_verify(request):
    """The second step of signing in, for anyone with an authenticator."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].replace(" ", ""))
        if device is not None:
            otp_login(request, device)
            audit_record(request=request, action="sign_in", detail="two-factor code accepted")
            return redirect(_next(request))
        audit_record(request=request, action="sign_in_failed", detail="wrong two-factor code")
        form.add_error("token", "That code is not right, or has been used. Try the newest code.")
    return render(
        request, "registration/otp_verify.html", {"form": form, "next": _next(request, "")}
    )


def _qr_data_uri(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


@login_required
def otp_setup(request):
    """Enrol an authenticator app: scan, confirm with a code, then keep the backup codes."""
    user = request.user
    if user_has_device(user, confirmed=True) and not request.user.is_verified():
        return redirect("otp_verify")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].replace(" ", "")):
            with transaction.atomic():
                TOTPDevice.objects.filter(user=user, confirmed=True).delete()
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                codes = _new_backup_codes(user)
            otp_login(request, device)
            audit_record(request=request, action="account_changed", detail="two-factor set up")
            context = {"codes": codes, "next": _next(request)}
            return render(request, "registration/otp_backup_codes.html", context)
        form.add_error("token", "That code does not match; check the time on your phone.")
    key = base64.b32encode(device.bin_key).decode("ascii")
    label = quote(f"{settings.OTP_TOTP_ISSUER}:{user.email}")
    url = (
        f"otpauth://totp/{label}?secret={key}&issuer={quote(settings.OTP_TOTP_ISSUER)}"
        f"&digits={device.digits}&period={device.step}"
    )
    context = {
        "form": form,
        "qr": _qr_data_uri(url),
        "key": " ".join(key[i : i + 4] for i in range(0, len(key), 4)),
        "next": _next(request, ""),
        "already": user_has_device(user, confirmed=True),
    }
    return render(request, "registration/otp_setup.html", context)


def _new_backup_codes(user) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name="Backup codes")
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def otp_reset(*, user, by) -> int:
    """A lost device: remove the user's authenticators and backup codes (they enrol again)."""
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).delete()[0]
        audit_record(action="account_changed", actor=by, object_repr=user.email,
                     detail="two-factor reset (lost device)")  # fmt: skip
    return removed
