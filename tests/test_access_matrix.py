"""Who gets what from every URL (SPEC 11): anonymous, the owner referrer, another referrer, an
admin, the assigned IR and another IR, each with the answer they must get.

The list of URLs comes from the URL configuration, so a URL added without an entry in MATRIX
fails test_every_url_has_an_entry. Each view is called with the method it is meant for and an
empty or minimal body: only the access answer is asserted (302 to sign-in, 401, 403, 404), and
for those let in, the exact code the view gives them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from referrals import attachments, workflow
from referrals.packets import queue as packet_queue
from tests.factories import ReferrerFactory, UserFactory, make_referral
from tests.files import pdf_bytes

LOGIN = "302 to sign-in"
PERSONAS = ("anonymous", "owner", "other_referrer", "admin", "assigned_ir", "other_ir")
SKIPPED_NAMESPACES = ("admin",)  # Django's admin: test_the_django_admin_is_for_superusers_only


def who(anonymous, owner, other_referrer, admin, assigned_ir, other_ir) -> dict:
    """The expected answer for each persona, in PERSONAS order."""
    answers = (anonymous, owner, other_referrer, admin, assigned_ir, other_ir)
    return dict(zip(PERSONAS, answers, strict=True))


def everyone(answer, *, anonymous=LOGIN) -> dict:
    return who(anonymous, answer, answer, answer, answer, answer)


# The shapes that recur: the owner referrer's own pages, the practice's pages and the packet.
def owner_only(answer) -> dict:
    """role_required(REFERRER) and referral_for_user(action="edit")."""
    return who(LOGIN, answer, 404, 403, 403, 403)


def referrers(answer) -> dict:
    return who(LOGIN, answer, answer, 403, 403, 403)


def admins(answer) -> dict:
    return who(LOGIN, 403, 403, answer, 403, 403)


def radiologists(answer) -> dict:
    return who(LOGIN, 403, 403, 403, answer, answer)


def viewers(answer) -> dict:
    """referral_for_user(action="view"): the owner, an admin and the assigned IR."""
    return who(LOGIN, answer, 404, answer, answer, 404)


def draft_viewers(answer) -> dict:
    """A draft, under referral_for_user(action="view"): the owner's alone (none is assigned)."""
    return who(LOGIN, answer, 404, 404, 404, 404)


def staff(answer) -> dict:
    """referral_for_user(action="staff"): an admin and the assigned IR, not the referrer."""
    return who(LOGIN, 404, 404, answer, answer, 404)


def temp_upload(name: str, content: bytes) -> TemporaryUploadedFile:
    handle = TemporaryUploadedFile(name, "application/pdf", len(content), None)
    handle.write(content)
    handle.flush()
    return handle


class World:
    """The people and the referrals every case is asked about, made once for the module."""

    def __init__(self, users):
        self.users = users
        owner = users["owner"]
        # The owner's, sent with one document, accepted and assigned to the assigned IR.
        self.referral = make_referral(owner)
        self.document = attachments.attachment_add(
            referral=self.referral,
            kind="clinical_notes",
            uploaded_file=temp_upload("gp-notes.pdf", pdf_bytes(pages=1)),
            by=owner,
        )
        workflow.referral_submit(referral=self.referral, by=owner, outside_criteria_reason="Test")
        workflow.referral_accept(
            referral=self.referral, by=users["admin"], radiologist=users["assigned_ir"]
        )
        self.referral.refresh_from_db()
        # Version 1 of its packet, rendered: READY.
        self.packet = packet_queue.packet_render(packet_id=self.referral.packets.get().pk)
        assert self.packet is not None and self.packet.status == "ready"
        # A draft of the owner's (a doctor's own until sent), with one document.
        self.draft = make_referral(owner)
        self.draft_document = attachments.attachment_add(
            referral=self.draft,
            kind="clinical_notes",
            uploaded_file=temp_upload("draft-notes.pdf", pdf_bytes(pages=1)),
            by=owner,
        )


def sent(w: World) -> dict:
    return {"referral_uuid": w.referral.uuid}


def drafted(w: World) -> dict:
    return {"referral_uuid": w.draft.uuid}


def none(w: World) -> dict:
    return {}


@dataclass(frozen=True)
class Case:
    method: str
    kwargs: Callable[[World], dict]
    expected: dict
    data: dict = field(default_factory=dict)
    json: bool = False


MATRIX: dict[str, Case] = {
    # --- signing in and out -------------------------------------------------------------------
    "home": Case("GET", none, everyone(302)),  # each to their role's landing page
    "login": Case("GET", none, everyone(302, anonymous=200)),  # signed in: on to home
    "logout": Case("POST", none, everyone(LOGIN)),  # signed out, back to sign-in
    "otp_verify": Case("GET", none, everyone(200)),
    "otp_setup": Case("GET", none, everyone(200)),
    "password_change": Case("GET", none, everyone(200)),
    "signup": Case("GET", none, everyone(302, anonymous=200)),  # signed in: home
    "signup_done": Case("GET", none, everyone(200, anonymous=200)),
    # "Forgot password?" is Django's: open to anyone, signed in or not.
    "password_reset": Case("GET", none, everyone(200, anonymous=200)),
    "password_reset_done": Case("GET", none, everyone(200, anonymous=200)),
    "password_reset_confirm": Case(
        "GET", lambda w: {"uidb64": "MQ", "token": "bad-token"}, everyone(200, anonymous=200)
    ),
    "password_reset_complete": Case("GET", none, everyone(200, anonymous=200)),
    "healthz": Case("GET", none, everyone(200, anonymous=200)),
    "readyz": Case("GET", none, everyone(200, anonymous=200)),
    # Metrics are for staff users (none of these personas) or the METRICS_TOKEN bearer.
    "metrics": Case("GET", none, everyone(403, anonymous=403)),
    "practice_profile": Case("GET", none, admins(200)),
    # The practice's colours (a stylesheet the sign-in page needs too): nothing private.
    "practice_css": Case("GET", none, everyone(200, anonymous=200)),
    # The API answers JSON: 401 rather than a redirect to a page. "{}" is all unknown.
    "eligibility_api": Case("POST", none, everyone(200, anonymous=401), data={}, json=True),
    # --- the referrer's side --------------------------------------------------------------------
    "referral_list": Case("GET", none, referrers(200)),
    "referral_new": Case("POST", none, referrers(302)),  # a new draft, then its first section
    "referral_detail": Case("GET", sent, viewers(200)),
    "referral_section": Case(
        "GET", lambda w: {**drafted(w), "section": "patient"}, owner_only(200)
    ),
    "referral_autosave": Case(
        "POST", lambda w: {**drafted(w), "section": "patient"}, owner_only(200)
    ),
    "referral_panel": Case("GET", drafted, owner_only(200)),
    "referral_withdraw": Case("POST", sent, owner_only(302)),
    "referral_answer": Case("POST", sent, owner_only(400)),  # nothing was asked: refused
    # Nothing was asked: the owner is sent back to the referral with a message.
    "referral_answer_item": Case("POST", lambda w: {**sent(w), "index": 0}, owner_only(302)),
    # No file: back to the documents page with the message (post/redirect/get).
    "attachment_upload": Case("POST", drafted, owner_only(302)),
    "attachment_download": Case(
        "GET", lambda w: {**sent(w), "attachment_uuid": w.document.uuid}, viewers(200)
    ),
    "attachment_delete": Case(
        "POST",
        lambda w: {**drafted(w), "attachment_uuid": w.draft_document.uuid},
        owner_only(302),
    ),
    # --- the practice's side --------------------------------------------------------------------
    "packet_inline": Case("GET", lambda w: {**sent(w), "packet_uuid": w.packet.uuid}, staff(200)),
    "packet_download": Case("GET", lambda w: {**sent(w), "packet_uuid": w.packet.uuid}, staff(200)),
    # The summary pages of a version sent: the referrer's printable copy (and the practice's).
    "packet_summary": Case(
        "GET", lambda w: {**sent(w), "packet_uuid": w.packet.uuid}, viewers(200)
    ),
    # A ready packet is not retried: the admin is sent back to the referral with a message.
    "packet_retry": Case("POST", lambda w: {**sent(w), "packet_uuid": w.packet.uuid}, admins(302)),
    # Approving is the assigned IR's; an admin's try is refused with a message: both redirect.
    "referral_action": Case(
        "POST",
        lambda w: {**sent(w), "action": "approve"},
        staff(302),
        data={"approve-note": "Suitable.", "expected_status": "accepted"},
    ),
    "message_create": Case("POST", sent, viewers(400)),  # no message: the form again
    "referral_audit": Case("GET", sent, admins(200)),
    "answer_reviewed": Case("POST", sent, staff(302)),
    # Not booked: nothing to print, for anyone who may see the referral.
    "booking_letter": Case("GET", sent, viewers(404)),
    # Only for a referral received by secure message (tests/test_hl7_staff.py): this one came
    # by the web form, so even an admin gets 404.
    "referral_facts_from_letter": Case("GET", sent, admins(404)),
    "triage_queue": Case("GET", none, admins(200)),
    "triage_queue_csv": Case("GET", none, admins(200)),
    "review_list": Case("GET", none, radiologists(200)),
}

# The same URLs on the owner's draft, where it changes the answer: a draft is the doctor's own,
# so an admin gets 404 until it is sent.
VARIANTS: dict[str, tuple[str, Case]] = {
    "referral_detail(draft)": ("referral_detail", Case("GET", drafted, draft_viewers(200))),
    "attachment_download(draft)": (
        "attachment_download",
        Case(
            "GET",
            lambda w: {**drafted(w), "attachment_uuid": w.draft_document.uuid},
            draft_viewers(200),
        ),
    ),
    "message_create(draft)": ("message_create", Case("POST", drafted, draft_viewers(400))),
    "referral_audit(draft)": ("referral_audit", Case("GET", drafted, admins(404))),
}

CASES = {**{name: (name, case) for name, case in MATRIX.items()}, **VARIANTS}


def url_names(patterns=None, namespace="") -> set[str]:
    """Every URL in the configuration: its name with namespace, or its route if it has none."""
    found = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            if inner in SKIPPED_NAMESPACES:
                continue
            prefix = f"{namespace}{inner}:" if inner else namespace
            found |= url_names(pattern.url_patterns, prefix)
        elif isinstance(pattern, URLPattern):
            route = str(pattern.pattern)
            if route.lstrip("^/").startswith(("static/", "media/")):
                continue
            found.add(f"{namespace}{pattern.name}" if pattern.name else f"unnamed: {route}")
    return found


@pytest.fixture(autouse=True)
def _quick_settings(settings, db, world):
    # Two-factor has its own tests; here staff are taken as having passed it.
    settings.OTP_REQUIRED = False
    # Six people a test, signed in with force_login: a slow password hash buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Made once for the module's 250-odd cases (each case is a few requests; making the world
    is most of the cost), inside a transaction rolled back at the end of the module. Each test
    runs in a savepoint of it (pytest-django's `db`), so what a case changes is undone."""
    media = tmp_path_factory.mktemp("media")
    storage = {"BACKEND": "django.core.files.storage.FileSystemStorage",
               "OPTIONS": {"location": media, "base_url": None}}  # fmt: skip
    with (
        django_db_blocker.unblock(),
        override_settings(
            MEDIA_ROOT=media,
            STORAGES={**django_settings.STORAGES, "default": storage},
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
        transaction.atomic(),
    ):
        world = World(
            {
                "anonymous": None,
                "owner": ReferrerFactory(email="alex.gp@clinic.example"),
                "other_referrer": ReferrerFactory(email="casey.gp@other.example"),
                "admin": UserFactory(email="sam.triage@practice.example", role="admin"),
                "assigned_ir": UserFactory(email="jordan.ir@practice.example", role="radiologist"),
                "other_ir": UserFactory(email="riley.ir@practice.example", role="radiologist"),
            }
        )
        yield world
        transaction.set_rollback(True)


def request_as(client, world, persona, case: Case, url: str, method: str | None = None):
    user = world.users[persona]
    if user is not None:
        client.force_login(user)
    method = (method or case.method).lower()
    if case.json and method == "post":
        return client.post(url, case.data, content_type="application/json")
    return getattr(client, method)(url, case.data if method == "post" else None)


def test_every_url_has_an_entry():
    configured = url_names()
    missing = sorted(configured - MATRIX.keys())
    assert not missing, f"URLs with no entry in the access MATRIX: {', '.join(missing)}"
    stale = sorted(MATRIX.keys() - configured)
    assert not stale, f"MATRIX entries for URLs that no longer exist: {', '.join(stale)}"
    for name, case in CASES.values():
        assert set(case.expected) == set(PERSONAS), name


@pytest.mark.parametrize(
    ("label", "persona"),
    [pytest.param(label, p, id=f"{label}-{p}") for label in CASES for p in PERSONAS],
)
def test_access(client, world, label, persona):
    name, case = CASES[label]
    url = reverse(name, kwargs=case.kwargs(world))
    expected = case.expected[persona]
    response = request_as(client, world, persona, case, url)
    where = f"{case.method} {url} as {persona}"
    if expected == LOGIN:
        assert response.status_code == 302, f"{where}: {response.status_code}, not {LOGIN}"
        assert response["Location"].startswith(reverse("login")), where
        return
    assert response.status_code == expected, f"{where}: {response.status_code}, not {expected}"
    if expected == 302 and persona != "anonymous":
        # Let in, and sent on somewhere: not bounced to sign-in as if a stranger.
        assert not response["Location"].startswith(reverse("login")), where
    if expected == 401:
        assert response.json()["error"], where


LET_IN = {200, 302, 400, LOGIN}  # LOGIN: signing out sends everyone to sign-in


@pytest.mark.parametrize("name", [name for name, case in MATRIX.items() if case.method == "POST"])
def test_a_post_only_url_refuses_a_get_with_405(client, world, name):
    case = MATRIX[name]
    # The first signed-in persona let in, so that the role and referral checks pass.
    persona = next(p for p in PERSONAS[1:] if case.expected[p] in LET_IN)
    url = reverse(name, kwargs=case.kwargs(world))
    assert request_as(client, world, persona, case, url, method="GET").status_code == 405


@pytest.mark.parametrize("persona", [*PERSONAS, "superuser"])
def test_the_django_admin_is_for_superusers_only(client, world, persona):
    if persona == "superuser":
        user = UserFactory(email="root@practice.example", is_superuser=True, is_staff=True)
    else:
        user = world.users[persona]
    if user is not None:
        client.force_login(user)
    response = client.get(reverse("admin:index"))
    if persona == "superuser":
        assert response.status_code == 200
    else:
        assert response.status_code == 302, persona
        assert response["Location"].startswith(reverse("admin:login")), persona
