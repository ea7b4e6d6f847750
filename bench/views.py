"""Baselines: the least a page, a JSON endpoint and an upload can cost on this stack.

They run behind the same middleware as the portal (sessions, CSRF, authentication, audit, CSP),
so a scenario's ratio to its baseline is the cost of the portal's own work.
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from referrals.models import Referral


def table(request):
    """The first baseline, kept to compare with earlier runs: 50 model instances by primary key,
    a status label and two dates formatted a row (not bare: see `lean`)."""
    rows = Referral.objects.only(
        "reference", "patient_given_name", "patient_family_name", "status", "pain_onset",
        "submitted_at",
    ).order_by("-pk")[:50]  # fmt: skip
    return render(request, "bench/table.html", {"rows": rows})


# The queue's columns (referrals.selectors.QUEUE_COLUMNS, the IR's name joined), as tuples.
LEAN_COLUMNS = ("uuid", "reference", "status", "patient_given_name", "patient_family_name",
                "patient_dob", "levels", "eligibility_outcome", "pain_onset", "submitted_at",
                "possible_duplicate", "assigned_radiologist__first_name",
                "assigned_radiologist__last_name")  # fmt: skip


def lean(request):
    """The lean baseline: the queue's columns for 50 rows by primary key, as values_list tuples
    (no model instances), printed as they come (no per-row formatting, no filters)."""
    rows = Referral.objects.order_by("-pk").values_list(*LEAN_COLUMNS)[:50]
    return render(request, "bench/lean.html", {"rows": rows})


@require_POST
def json_body(request):
    """A small JSON body; the request carries the same headers and body as the eligibility API."""
    return JsonResponse({"ok": True, "received": len(request.body)})


@require_POST
def upload(request):
    """Streams the upload to disk (the portal's upload handler) and does nothing else."""
    sizes = {name: f.size for name, f in request.FILES.items()}
    return JsonResponse({"sizes": sizes})
