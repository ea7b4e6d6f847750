"""The practice's staff fill in a secure-message referral's clinical facts from its letter.

A referral from a GP's clinical software carries its facts in the letter (the PDF), rarely as
data. An admin may enter them with the web form's clinical section: each field entered is
marked as the practice's (who and when, shown on the referral page), the change is audited,
the eligibility result is stored again, and the packet gets a new version.
"""

from django.db import transaction
from django.utils import timezone

from eligibility.rules import FactsError
from portal.audit import audit_record
from referrals.intake import referral_assess
from referrals.models import Referral
from referrals.packets.queue import packet_queue


def facts_may_enter(referral: Referral) -> bool:
    return referral.by_secure_message and referral.is_open


def facts_enter(*, referral: Referral, form, by) -> list[str]:
    """Save the validated clinical form; returns the names of the fields it changed."""
    changed = list(form.changed_data)
    if not changed:
        return []
    with transaction.atomic():
        form.save()
        stamp = f"{by.get_full_name() or by.email}, {timezone.localdate():%-d %B %Y}"
        entered = {**(referral.staff_entered or {}), **dict.fromkeys(changed, stamp)}
        fields = {"staff_entered": entered, "updated_at": timezone.now()}
        try:
            result = referral_assess(referral)
        except FactsError:
            fields.update(eligibility=None, eligibility_outcome="incomplete")
        else:
            fields.update(eligibility=result.as_dict(), eligibility_outcome=result.outcome,
                          criteria_version=result.criteria_version)  # fmt: skip
        Referral.objects.filter(pk=referral.pk).update(**fields)
        for name, value in fields.items():
            setattr(referral, name, value)
        audit_record(action="referral_changed", referral=referral, actor=by,
                     detail="clinical facts entered by the practice from the letter: "
                     + ", ".join(changed))  # fmt: skip
        packet_queue(referral=referral, reason="Clinical facts entered by the practice")
    return changed
