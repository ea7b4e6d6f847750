from django.shortcuts import render

from portal.roles import ADMIN, RADIOLOGIST, REFERRER, role_required


@role_required(REFERRER)
def referral_list(request):
    """The referring doctor's own referrals, newest first."""
    return render(request, "referrals/referral_list.html", {"referrals": []})


@role_required(ADMIN)
def triage_queue(request):
    """Incoming referrals for the practice's admins, most urgent first."""
    return render(request, "referrals/triage_queue.html", {"referrals": []})


@role_required(RADIOLOGIST)
def review_list(request):
    """Referrals assigned to the signed-in interventional radiologist."""
    return render(request, "referrals/review_list.html", {"referrals": []})
