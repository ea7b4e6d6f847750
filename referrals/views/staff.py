from django.shortcuts import render

from portal.roles import ADMIN, RADIOLOGIST, role_required


@role_required(ADMIN)
def triage_queue(request):
    """Incoming referrals for the practice's admins, most urgent first."""
    return render(request, "referrals/triage_queue.html", {"referrals": []})


@role_required(RADIOLOGIST)
def review_list(request):
    """Referrals assigned to the signed-in interventional radiologist."""
    return render(request, "referrals/review_list.html", {"referrals": []})
