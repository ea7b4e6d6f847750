"""Secure-message referrals on the practice's side: clinical facts entered from the letter."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from portal.roles import ADMIN, role_required
from referrals.access import referral_for_user
from referrals.forms.intake import ClinicalForm
from referrals.hl7.facts import facts_enter, facts_may_enter
from referrals.selectors import only_current


@role_required(ADMIN)
def referral_facts_from_letter(request, referral_uuid):
    referral = referral_for_user(request.user, referral_uuid, action="staff")
    if not facts_may_enter(referral):
        raise Http404("No such referral")
    form = ClinicalForm(request.POST or None, instance=referral)
    if request.method == "POST" and form.is_valid():
        changed = facts_enter(referral=referral, form=form, by=request.user)
        if changed:
            messages.success(request, f"{referral.reference}: {len(changed)} fact(s) saved as "
                             "entered by the practice.")  # fmt: skip
        else:
            messages.info(request, "Nothing was changed.")
        return redirect("referral_detail", referral.uuid)
    letters = [a for a in only_current(referral.attachments.all()) if a.kind == "clinical_notes"]
    return render(request, "referrals/facts_from_letter.html", {
        "referral": referral, "form": form, "letters": letters,
    }, status=400 if request.method == "POST" else 200)  # fmt: skip
