"""Every read across relations: the queue, the IR's reviews, the dashboard, a referral's
current documents, latest packet, open request, thread and timeline, likely duplicates. Each
says which index it relies on."""

import re
from datetime import timedelta

from django.conf import settings
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

from eligibility.rules import WINDOW_DAYS
from referrals.models import (
    Attachment,
    ImagingStudy,
    InfoRequest,
    Packet,
    ReferenceCounter,
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
    (indexes referral_medicare_idx and, for the names' iexact, referral_name_dob_upper_idx)."""
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


# A reference as typed: "VP-2026-00042", "vp-2026-42", "VP-2026", "vp 2026 7", "2026-00042"
# (a number typed alone is searched as a Medicare number and a reference's number).
_REFERENCE = re.compile(r"(?:VP)?[-\s]*(\d{4})(?:[-\s]+(\d{1,7}))?[-\s]*")


def _reference_prefixes(q: str) -> list[str] | None:
    """The stored form (VP-YYYY-NNNNN) of what was typed as a reference, as prefixes to match
    with startswith (the reference's varchar_pattern_ops index), or None if it is not one."""
    upper = q.upper()
    match = _REFERENCE.fullmatch(upper)
    if match is None:
        return None
    # Without "VP", only "2026-42": spaced digits are more likely a Medicare number.
    if not upper.startswith("VP") and not re.fullmatch(r"20\d\d-\d{1,7}", upper):
        return None
    year, number = match.groups()
    if number is None:
        return [f"VP-{year}-"]
    return [f"VP-{year}-{int(number):05d}"]


def _number_prefixes(digits: str) -> list[str]:
    """A reference's number typed alone ("00007", "42"): that number in each year references
    were issued (ReferenceCounter: a few rows)."""
    if len(digits) > 7:
        return []
    years = ReferenceCounter.objects.order_by("year").values_list("year", flat=True)
    return [f"VP-{year}-{int(digits):05d}" for year in years]


def _any_prefix(field: str, prefixes: list[str]) -> Q:
    condition = Q(pk__in=[])
    for prefix in prefixes:
        condition |= Q(**{f"{field}__startswith": prefix})
    return condition


def _search(queryset, q: str):
    """A reference (whole or partial), a Medicare number (whole or partial) or names: every
    word must match a name. Each path is served by an index (see Referral.Meta.indexes)."""
    q = " ".join(q.split())
    if not q:
        return queryset
    prefixes = _reference_prefixes(q)
    if prefixes is not None:
        return queryset.filter(_any_prefix("reference", prefixes))
    digits = q.replace(" ", "")
    if digits.isdigit():
        # Digits are a Medicare number (whole: the equality index; partial: the prefix index)
        # or a reference's number: both are searched.
        if len(digits) == 10:
            medicare = Q(medicare_number=digits)
        else:
            medicare = Q(medicare_number__startswith=digits)
        return queryset.filter(medicare | _any_prefix("reference", _number_prefixes(digits)))
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
    "answered_at",
    "assigned_radiologist__first_name",
    "assigned_radiologist__last_name",
    "assigned_radiologist__email",
)

QUEUE_ORDER_RULE = (
    "Open treatment windows first, the one closing soonest at the top; then referrals whose "
    "window has closed; then those with no pain onset date; each group oldest received first."
)


class TriageQueue:
    """The queue in its order (QUEUE_ORDER_RULE) as three querysets, one after the other:
    windows still open by closing date, then closed windows, then no onset, each by oldest
    received. Each is an index walk that stops after a page, and a rule that depends on today
    cannot be an index's order, so the order is theirs in turn rather than one CASE to sort.

    Paginator-compatible: count() is capped at `cap` (the `more` flag says there were more),
    and a slice reads only the parts it covers. Every count and page query reads at most
    cap + 1 or a page of index entries, however many referrals there are.
    """

    def __init__(self, queryset, *, today, cap: int, searched: bool = False):
        cutoff = today - timedelta(days=WINDOW_DAYS)
        self.cap = cap
        self.searched = searched
        self.matching = queryset  # the filters and search, before the order's parts
        self.segments = [
            queryset.filter(pain_onset__gte=cutoff).order_by(
                "pain_onset", F("submitted_at").asc(nulls_last=True), "id"
            ),
            queryset.filter(pain_onset__lt=cutoff).order_by(
                F("submitted_at").asc(nulls_last=True), "id"
            ),
            queryset.filter(pain_onset__isnull=True).order_by(
                F("submitted_at").asc(nulls_last=True), "id"
            ),
        ]
        self._counts = None
        self.more = False

    def _segment_counts(self) -> list[int]:
        if self._counts is None:
            counts, left = [], self.cap + 1
            for segment in self.segments:
                # COUNT over a LIMIT: reads at most `left` index entries, never all matches.
                n = segment.order_by()[:left].count() if left > 0 else 0
                counts.append(n)
                left -= n
            self.more = sum(counts) > self.cap
            self._counts = counts
        return self._counts

    def count(self) -> int:
        return min(sum(self._segment_counts()), self.cap)

    def __len__(self):
        return self.count()

    def __getitem__(self, item):
        if not isinstance(item, slice):
            raise TypeError("TriageQueue only slices")
        start, stop = item.start or 0, item.stop
        rows, offset = [], 0
        for segment, n in zip(self.segments, self._segment_counts(), strict=True):
            lo, hi = max(start - offset, 0), min(stop - offset, n)
            if lo < hi:
                rows.extend(self._page(segment, lo, hi))
            offset += n
            if offset >= stop:
                break
        return rows

    def _page(self, segment, lo: int, hi: int):
        if not self.searched:
            return _queue_columns(segment)[lo:hi]
        # A search: the page's ids first, from the queue's index alone (the names are in it),
        # then those rows. Read in one, a name search fetched each row it passed over from the
        # table to check the names: a thousand random pages at 1M.
        ids = segment.values("pk")[lo:hi]
        return _queue_columns(Referral.objects.filter(pk__in=ids).order_by(*segment.query.order_by))

    def iterator(self, chunk_size: int = 500):
        """Every matching referral in order (the CSV), uncapped."""
        for segment in self.segments:
            yield from _queue_columns(segment).iterator(chunk_size=chunk_size)


def _queue_columns(queryset):
    return (
        queryset.select_related("assigned_radiologist")
        .only(*QUEUE_COLUMNS)
        .annotate(packet_status=_latest_packet_status())
    )


def triage_queue(*, status="", outcome="", site=None, radiologist=None, q="", today=None):
    """Referrals for the admins in the order QUEUE_ORDER_RULE says (TriageQueue).

    Blank status is "Open": waiting on the practice (Referral.QUEUE_STATUSES); "answered" is
    every referral whose answer to a request is waiting for the practice's review. The indexes
    each part uses are in Referral.Meta.indexes; the latest packet's status comes from a
    subquery, the IR from a join.
    """
    queryset = Referral.objects.exclude(status=Referral.Status.DRAFT)
    if status == "all":
        pass
    elif status == "answered":  # the referrer answered a request; staff have not acted since
        queryset = queryset.filter(answered_at__isnull=False)
    elif status:
        queryset = queryset.filter(status=status)
    else:
        queryset = queryset.filter(status__in=Referral.QUEUE_STATUSES)
    if outcome:
        queryset = queryset.filter(eligibility_outcome=outcome)
    if site is not None:
        queryset = queryset.filter(preferred_site=site)
    if radiologist is not None:
        queryset = queryset.filter(assigned_radiologist=radiologist)
    queryset = _search(queryset, q)
    # A search counts to a lower cap: past a couple of hundred matches the answer is a longer
    # search (a given name too), not a count; and a name's matches would otherwise be read from
    # the table up to the queue's cap, which grows with the practice's history.
    cap = settings.QUEUE_SEARCH_COUNT_CAP if q.strip() else settings.QUEUE_COUNT_CAP
    return TriageQueue(
        queryset, today=today or timezone.localdate(), cap=cap, searched=bool(q.strip())
    )


def reviews_for(user):
    """The IR's referrals: an answer to their request first, then those waiting for their
    decision, then the rest (asked about, approved, booked), each by urgency
    (index referral_reviews_idx)."""
    S = Referral.Status
    return (
        Referral.objects.filter(
            assigned_radiologist=user,
            status__in=[S.ACCEPTED, S.INFO_REQUESTED, S.APPROVED, S.BOOKED],
        )
        .annotate(
            waiting=Case(
                When(answered_at__isnull=False, then=Value(-1)),
                When(status=Referral.Status.ACCEPTED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            packet_status=_latest_packet_status(),
        )
        .select_related("assigned_radiologist")
        .only(*QUEUE_COLUMNS, "booked_start")
        .order_by("waiting", F("pain_onset").asc(nulls_last=True), "submitted_at", "id")
    )


def referral_messages(referral: Referral):
    return list(
        referral.messages.select_related("author").prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
        )
    )
