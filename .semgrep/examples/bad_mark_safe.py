"""Each call marked `ruleid:` must be reported by django-mark-safe."""

# ruff: noqa: S308 - these are deliberate violations for the semgrep rule to find

from django.utils import html, safestring
from django.utils.html import mark_safe as html_mark_safe
from django.utils.safestring import mark_safe


def user_value(referral):
    # ruleid: django-mark-safe
    return mark_safe(referral.clinical_notes)


def fstring(referral):
    # ruleid: django-mark-safe
    return mark_safe(f"<b>{referral.patient_name}</b>")


def concatenation(name):
    # ruleid: django-mark-safe
    return mark_safe("<b>" + name + "</b>")


def through_module(value):
    # ruleid: django-mark-safe
    return safestring.mark_safe(value)


def reexported(value):
    # ruleid: django-mark-safe
    return html_mark_safe(value)


def reexported_module(value):
    # ruleid: django-mark-safe
    return html.mark_safe(value)
