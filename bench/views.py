"""Baselines: the least a page, a JSON endpoint and an upload can cost on this stack.

They run behind the same middleware as the portal (sessions, CSRF, authentication, audit, CSP),
so a scenario's ratio to its baseline is the cost of the portal's own work.
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from referrals.models import Referral


def table(request):
    """A 50-row table from one query on the primary key index, with a minimal template."""
    rows = Referral.objects.only(
        "reference", "patient_given_name", "patient_family_name", "status", "pain_onset",
        "submitted_at",
    ).order_by("-pk")[:50]  # fmt: skip
    return render(request, "bench/table.html", {"rows": rows})


@require_POST
def json_body(request):
    """A small JSON body; the request carries the same headers and body as the eligibility API."""
    return JsonResponse({"ok": True, "received": len(request.body)})


@require_POST
def upload(request):
    """Streams the upload to disk (the portal's upload handler) and does nothing else."""
    sizes = {name: f.size for name, f in request.FILES.items()}
    return JsonResponse({"sizes": sizes})
