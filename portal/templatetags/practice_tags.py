"""The practice's identity in any template, with or without a request (emails, the packet)."""

from django import template

from portal.context_processors import practice_identity

register = template.Library()


@register.simple_tag
def practice():
    return practice_identity()
