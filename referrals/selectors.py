"""Every read across relations: the queue, the IR's reviews, the dashboard, a referral's
current documents, latest packet, open request, thread and timeline, likely duplicates. Each
says which index it relies on."""

from datetime import timedelta

from django.db.models import (
    Case,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from referrals.models import (
    Attachment,
    ImagingStudy,
    InfoRequest,
    Packet,
    Referral,
    StatusEvent,
)


def referrals_for_dashboard(user):
    """The referrer's referrals, last changed first (index referral_dashboard_idx).

    Imaging is prefetched so drafts can show a live eligibility outcome without a query a row.
    """
    return (
        Referral.objects.filter(referrer=user)
        .order_by("-updated_at", "-id")
        .prefetch_related(Prefetch("imaging", queryset=ImagingStudy.objects.order_by("id")))
    )


def referral_timeline(referral: Referral) -> list[StatusEvent]:
    return list(referral.events.select_related("by").order_by("at", "id"))


def current_attachments(referral: Referral):
    """The referral's documents as they stand: each one not replaced by a newer version."""
    return referral.attachments.filter(replaced_by__isnull=True)


def only_current(attachments) -> list[Attachment]:
    """The same, of attachments already loaded (a page that shows the replaced ones too)."""
    return [a for a in attachments if a.replaced_by_id is None]


def packet_latest(referral: Referral) -> Packet | None:
    return referral.packets.order_by("-version").first()


def referral_open_info_request(referral: Referral) -> InfoRequest | None:
    return referral.info_requests.filter(answered_at__isnull=True).last()


def possible_duplicates(referral: Referral):
    """Other open referrals for the same patient in the last 90 days, from any referrer
    (indexes referral_medicare_idx and referral_name_dob_idx)."""
    since = timezone.now() - timedelta(days=90)
    same_patient = Q()
    if referral.medicare_number and referral.medicare_irn:
        same_patient |= Q(
            medicare_number=referral.medicare_number, medicare_irn=referral.medicare_irn
        )
    if referral.patient_family_name and referral.patient_dob:
        same_patient |= Q(
            patient_family_name__iexact=referral.patient_family_name,
            patient_given_name__iexact=referral.patient_given_name,
            patient_dob=referral.patient_dob,
        )
    if not same_patient:
        return Referral.objects.none()
    return (
        Referral.objects.filter(same_patient, status__in=Referral.OPEN_STATUSES)
        .filter(Q(submitted_at__gte=since) | Q(created_at__gte=since))
        .exclude(pk=referral.pk)
    )


def _latest_packet_status():
    latest = Packet.objects.filter(referral=OuterRef("pk")).order_by("-version")
    return Subquery(latest.values("status")[:1])


def _search(queryset, q: str):
    """A reference, a Medicare number (digits) or names: every word must match a name."""
    q = " ".join(q.split())
    if not q:
        return queryset
    if q.upper().startswith("VP-"):
        return queryset.filter(reference__istartswith=q)
    digits = q.replace(" ", "")
    if digits.isdigit():
        if len(digits) == 10:  # a whole card number: an equality the index serves
            return queryset.filter(medicare_number=digits)
        return queryset.filter(medicare_number__startswith=digits)
    for word in q.split():
        queryset = queryset.filter(
            Q(patient_family_name__icontains=word) | Q(patient_given_name__icontains=word)
        )
    return queryset


# What the queue and its CSV show: only these columns are read (no free text loaded; the one
# JSON is the stored result, for the criteria not met), and the IR's name is joined in.
QUEUE_COLUMNS = (
    "uuid",
    "reference",
    "status",
    "patient_given_name",
    "patient_family_name",
    "patient_dob",
    "levels",
    "eligibility_outcome",
    "eligibility",
    "pain_onset",
    "submitted_at",
    "possible_duplicate",
    "assigned_radiologist__first_name",
    "assigned_radiologist__last_name",
    "assigned_radiologist__email",
)


def triage_queue(*, status="", outcome="", site=None, radiologist=None, q=""):
    """Referrals for the admins, the window closing soonest first, then the oldest received.

    Index referral_queue_idx serves the default filter and order. One query for the page (the
    latest packet's status comes from a subquery, the IR from a join).
    """
    queryset = Referral.objects.exclude(status=Referral.Status.DRAFT)
    if status == "all":
        pass
    elif status:
        queryset = queryset.filter(status=status)
    else:
        queryset = queryset.filter(status__in=Referral.OPEN_STATUSES)
    if outcome:
        queryset = queryset.filter(eligibility_outcome=outcome)
    if site is not None:
        queryset = queryset.filter(preferred_site=site)
    if radiologist is not None:
        queryset = queryset.filter(assigned_radiologist=radiologist)
    queryset = _search(queryset, q)
    return (
        queryset.select_related("assigned_radiologist")
        .only(*QUEUE_COLUMNS)
        .annotate(packet_status=_latest_packet_status())
        .order_by(
            F("pain_onset").asc(nulls_last=True), F("submitted_at").asc(nulls_last=True), "id"
        )
    )


def reviews_for(user):
    """The IR's referrals: those waiting for their decision first, each by urgency
    (index referral_reviews_idx)."""
    return (
        Referral.objects.filter(
            assigned_radiologist=user,
            status__in=[Referral.Status.ACCEPTED, Referral.Status.APPROVED, Referral.Status.BOOKED],
        )
        .annotate(
            waiting=Case(
                When(status=Referral.Status.ACCEPTED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            packet_status=_latest_packet_status(),
        )
        .select_related("preferred_site", "booking_site")
        .order_by("waiting", F("pain_onset").asc(nulls_last=True), "submitted_at", "id")
    )


def referral_messages(referral: Referral):
    return list(
        referral.messages.select_related("author").prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
        )
    )
