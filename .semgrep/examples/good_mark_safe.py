"""Forms that django-mark-safe must leave alone."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

SEPARATOR = mark_safe("<hr>")


def literal():
    return mark_safe('<span class="visually-hidden">(required)</span>')


def escaped_markup(referral):
    return format_html("<b>{}</b>", referral.patient_name)


def escaped_list(items):
    return format_html_join("\n", "<li>{}</li>", ((item,) for item in items))
