"""The portal's settings: one module, read from the environment (see .env.example and README).

With nothing set it runs for development on SQLite and a broker that needs no server. With
DEBUG off, values that production needs have no default and their absence stops start-up.
"""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from portal.env import (
    env_bool,
    env_colour,
    env_database,
    env_email,
    env_int,
    env_list,
    env_rate,
    env_redis,
    env_seconds_list,
    env_storage,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105
elif not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off (comma-separated)")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The base of links in emails. Unset, it is the development server's address: `PORT=8101 make run`
# serves (and links to) port 8101.
PORT = env_int("PORT", 8000, minimum=1)
SITE_URL = (env_str("SITE_URL") or f"http://127.0.0.1:{PORT}").rstrip("/")

# The practice's contact details as first shown (referral pages, email footers); its admins
# edit them at /practice/ after that.
PRACTICE_NAME = env_str("PRACTICE_NAME") or "Vertebroplasty Interventional Radiology"
PRACTICE_URGENT_PHONE = env_str("PRACTICE_URGENT_PHONE") or "03 9000 0001"
PRACTICE_FAX = env_str("PRACTICE_FAX") or "03 9000 0002"
PRACTICE_ADDRESS = env_str("PRACTICE_ADDRESS") or "1 Example Parade, Parkville VIC 3052"
PRACTICE_HOURS = env_str("PRACTICE_HOURS") or "Monday to Friday, 8 am to 5 pm"
# Its look, in the header, the sign-in page, emails, letters and the packet's cover
# (portal.context_processors.practice_identity). The logo is a path under static/.
PRACTICE_LOGO = env_str("PRACTICE_LOGO", "img/practice-logo.svg")
PRACTICE_COLOUR = env_colour("PRACTICE_COLOUR", "#0b3d66")
# Pages (not emails, letters or packets) keep the details this long in each web process; an
# edit shows at once in the process that saved it and within this time in the others.
PRACTICE_DETAILS_CACHE_SECONDS = env_int("PRACTICE_DETAILS_CACHE_SECONDS", 30, minimum=0)

# Public holidays a booking date is checked against (a booking on one asks for confirmation):
# a country and optional subdivision as the `holidays` package names them.
BOOKING_HOLIDAYS_REGION = env_str("BOOKING_HOLIDAYS_REGION") or "AU-VIC"
try:
    import holidays as _holidays

    _country, _, _subdivision = BOOKING_HOLIDAYS_REGION.partition("-")
    _holidays.country_holidays(_country, subdiv=_subdivision or None)
except NotImplementedError:
    raise ImproperlyConfigured(
        "BOOKING_HOLIDAYS_REGION must be a country and optional subdivision the holidays "
        f"package knows, such as AU-VIC (got {BOOKING_HOLIDAYS_REGION!r})"
    ) from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_ratelimit",
    "portal",
    "eligibility",
    "referrals",
]

MIDDLEWARE = [
    # First: the request id is on every later log line, and every response is counted and timed.
    "portal.request_id.RequestIdMiddleware",
    "portal.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.audit.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.SessionLimitsMiddleware",
    "portal.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
                "portal.context_processors.practice",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names PostgreSQL.
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis is the Celery broker and the cache when REDIS_URL is set.
REDIS_URL = env_redis("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out account or address before the password check.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, with the user's roles read in the query that loads the session's user.
    "portal.backends.RolesModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Idle timeout: the session expires SESSION_IDLE_MINUTES after the last request; whatever the
# activity, it ends SESSION_ABSOLUTE_HOURS after sign-in (portal.middleware).
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30, minimum=1) * 60
# Not an UPDATE of the session row on every request (a quarter of a page's database time):
# portal.middleware.SessionMiddleware writes it when it changed, or to renew its expiry once the
# last write is SESSION_RENEW_SECONDS old. The idle limit is still exact: the time of the last
# request rides in a signed cookie and the middleware signs out a session idle past the limit.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_RENEW_SECONDS = env_int("SESSION_RENEW_SECONDS", 60, minimum=1)
SESSION_ENGINE = "portal.sessions"  # database sessions, see above
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_HOURS", 12, minimum=1) * 3600

# Failed sign-in lockout (django-axes): after AXES_FAILURE_LIMIT failures for an account, or
# from an address, sign-in is refused for LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env_int("LOCKOUT_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "portal.forms.axes_username"  # the normalised email
# "Forgot password?": the emailed link works once, for this long; requests past the rate (per
# address typed, and per client address) get the same answer and send nothing.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_MINUTES", 60, minimum=5) * 60
PASSWORD_RESET_RATE = env_rate("PASSWORD_RESET_RATE", "5/h")
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Two-factor sign-in (TOTP, django-otp): required for these roles and superusers, offered to
# referrers. Tests that are not about two-factor turn the requirement off.
OTP_REQUIRED = env_bool("OTP_REQUIRED", True)
OTP_REQUIRED_ROLES = ("admin", "radiologist")
OTP_TOTP_ISSUER = "Vertebroplasty referrals"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-au"
TIME_ZONE = "Australia/Melbourne"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
if DEBUG:
    # WhiteNoise serves from the finders in development but warns if this folder is missing.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Uploads are private: stored under MEDIA_ROOT and only ever served by views that check
# access. There is deliberately no MEDIA_URL route.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
STORAGES = {
    # The local disk by default; STORAGE_URL=s3://bucket?endpoint=... for object storage shared
    # by every web and worker host (portal/env.py, README "Scaling past one machine").
    "default": env_storage("STORAGE_URL", MEDIA_ROOT),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Documents: limits (bytes) and uploads streamed to a temporary file, never held in memory.
DOCUMENT_MAX_BYTES = env_int("DOCUMENT_MAX_MB", 100, minimum=1) * 1024 * 1024
REFERRAL_MAX_BYTES = env_int("REFERRAL_MAX_MB", 500, minimum=1) * 1024 * 1024
# Pages: a PDF, and all of a referral's documents (an image or DICOM file counts as one), so a
# packet stays something an IR can read; the packet itself never has more than PACKET_MAX_PAGES.
DOCUMENT_MAX_PAGES = env_int("DOCUMENT_MAX_PAGES", 300, minimum=1)
PACKET_MAX_PAGES = env_int("PACKET_MAX_PAGES", 1000, minimum=1)
FILE_UPLOAD_HANDLERS = ["referrals.attachments.LimitedTemporaryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
# Where uploads stream to (default: the system's temporary folder). On the same volume as
# MEDIA_ROOT, storing a checked upload is a rename rather than a copy of the whole file.
# The folder is the portal's own (var/tmp/uploads by default), so that files left behind by a
# web worker killed mid-upload can be swept: every UPLOAD_TEMP_SWEEP_SECONDS, those older than
# UPLOAD_TEMP_MAX_AGE_SECONDS are deleted (referrals/uploads.py, `manage.py sweep_uploads`).
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR")
if FILE_UPLOAD_TEMP_DIR and not Path(FILE_UPLOAD_TEMP_DIR).is_dir():
    raise ImproperlyConfigured(f"FILE_UPLOAD_TEMP_DIR: no such folder: {FILE_UPLOAD_TEMP_DIR}")
if not FILE_UPLOAD_TEMP_DIR:
    FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "tmp" / "uploads")
    Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
UPLOAD_TEMP_MAX_AGE_SECONDS = env_int("UPLOAD_TEMP_MAX_AGE_SECONDS", 3600, minimum=60)
UPLOAD_TEMP_SWEEP_SECONDS = env_int("UPLOAD_TEMP_SWEEP_SECONDS", 600, minimum=10)

# Email: files under var/mail unless EMAIL_URL says otherwise.
globals().update(env_email("EMAIL_URL", str(VAR_DIR / "mail")))
DEFAULT_FROM_EMAIL = (
    env_str("DEFAULT_FROM_EMAIL") or "Vertebroplasty referrals <referrals@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL


# The audit page folds one person's autosaves of one section into one row while each comes
# within this many minutes of the last (one sitting).
AUDIT_FOLD_MINUTES = env_int("AUDIT_FOLD_MINUTES", 30, minimum=0)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Eligibility: how old the latest coagulation profile may be (the work-up item).
COAG_PROFILE_MAX_AGE_DAYS = env_int("COAG_PROFILE_MAX_AGE_DAYS", 30, minimum=1)
# The triage queue counts matches up to this many and then says "more than" (a COUNT of every
# match would read all of them: a quarter of a million open referrals at a million).
QUEUE_COUNT_CAP = env_int("QUEUE_COUNT_CAP", 1000, minimum=50)
QUEUE_SEARCH_COUNT_CAP = env_int("QUEUE_SEARCH_COUNT_CAP", 200, minimum=50)
# The JSON endpoint (POST /api/eligibility), open to every signed-in user: a list of at most
# ELIGIBILITY_API_MAX_BATCH facts objects, a body of at most ELIGIBILITY_API_MAX_BODY_KB, and
# ELIGIBILITY_API_RATE calls per user (django-ratelimit: "60/m", "1000/h", "100/5m").
# `manage.py eligibility` is run by the practice's own staff and streams larger batches.
ELIGIBILITY_API_MAX_BATCH = env_int("ELIGIBILITY_API_MAX_BATCH", 100, minimum=1)
ELIGIBILITY_API_MAX_BODY_KB = env_int("ELIGIBILITY_API_MAX_BODY_KB", 256, minimum=1)
ELIGIBILITY_API_RATE = env_rate("ELIGIBILITY_API_RATE", "60/m")
ELIGIBILITY_COMMAND_MAX_BATCH = env_int("ELIGIBILITY_COMMAND_MAX_BATCH", 1_000_000, minimum=1)
# django-ratelimit counts in the default cache. It warns that Django's own Redis cache is not
# one it tests (it is atomic and shared, which is what it needs), and refuses the per-process
# memory cache of development, where one process is all there is to count in.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + (
    [] if REDIS_URL else ["django_ratelimit.E003"]
)

# Celery. With REDIS_URL unset the broker is kombu's filesystem transport under var/celery,
# which needs no server: `make run` starts a real worker on it.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_TIME_LIMIT must be above CELERY_TASK_SOFT_TIME_LIMIT")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # An unacknowledged task is redelivered after this; it must outlast the hard limit or
        # a long render would run twice.
        "visibility_timeout": env_int(
            "CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT * 2, minimum=1
        ),
        # A doctor's request must not hang when Redis is down: fail the publish at once (the
        # packet row is already saved; the sweeper sends it later). The worker's own consumer
        # connection retries under CELERY_BROKER_CONNECTION_MAX_RETRIES instead.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "max_retries": 0,
        # A dead worker's unacknowledged task is restored by a sweep every 10 s; kombu scans
        # Redis only every 10th sweep by default, which added up to 100 s to the visibility
        # timeout. One cheap scan every 10 s instead.
        "unacked_restore_throttle": 1,
    }
    if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CELERY_TASK_TIME_LIMIT:
        raise ImproperlyConfigured(
            "CELERY_VISIBILITY_TIMEOUT must be above CELERY_TASK_TIME_LIMIT, or a long task "
            "would be delivered twice"
        )
else:
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "celery" / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery' / 'results'}"
    # The transport expects its folders to exist; web and worker both create them.
    for _folder in ("broker", "control", "results"):
        (VAR_DIR / "celery" / _folder).mkdir(parents=True, exist_ok=True)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
# Tasks record their outcome in the database (e.g. the packet row), not a result backend; a
# result subscription would also make publishing wait on a down Redis.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker process keeps the memory it grew to (WeasyPrint's caches, a large document's
# pages); one past this size, in KB, is replaced once its task is done (bench/RESULTS.md).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int(
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB", 300_000, minimum=50_000
)
# When the broker connection drops, Celery terminates the tasks it is running (their messages
# are unacknowledged and would run twice otherwise); chosen deliberately, and each terminated
# task's outbox row goes straight back to the queue (the task_retry signal, referrals/tasks.py)
# and is published again as soon as the broker is back.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_TIMEZONE = TIME_ZONE
# Two queues: "celery" for the work (renders, emails, document parts) and "control" for the
# sweeps, so that a backlog of renders never holds up the recovery. Every worker consumes both
# (`-Q celery,control`, also the default here); a separate worker may take "control" alone.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in ("celery", "control")
]
CELERY_TASK_ROUTES = {
    "referrals.sweep_outbox": {"queue": "control"},
    "referrals.sweep_uploads": {"queue": "control"},
}
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 10, minimum=1)
CELERY_BEAT_SCHEDULE = {
    # A sweep not started within its interval is dropped (expires): the next one does its work.
    "sweep-outbox": {
        "task": "referrals.sweep_outbox",
        "schedule": float(SWEEP_INTERVAL_SECONDS),
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    "sweep-uploads": {
        "task": "referrals.sweep_uploads",
        "schedule": float(UPLOAD_TEMP_SWEEP_SECONDS),
        "options": {"expires": UPLOAD_TEMP_SWEEP_SECONDS},
    },
}

# The outbox (referrals/outbox.py: packets and emails). A working row beats a heartbeat every
# OUTBOX_HEARTBEAT_SECONDS; one silent for OUTBOX_STALE_SECONDS lost its worker and is taken
# back. A queued row is published again OUTBOX_RESEND_SECONDS after it was published, that
# interval doubling with each publish up to OUTBOX_RESEND_MAX_SECONDS (at once if the broker lost
# its messages meanwhile); past OUTBOX_MAX_ATTEMPTS claims or publishes it is failed. At most
# OUTBOX_SWEEP_BATCH rows of a kind are published per sweep. A transient failure is retried after
# each of OUTBOX_RETRY_SECONDS in turn, then marked failed.
OUTBOX_HEARTBEAT_SECONDS = env_int("OUTBOX_HEARTBEAT_SECONDS", 10, minimum=1)
OUTBOX_STALE_SECONDS = env_int("OUTBOX_STALE_SECONDS", 30, minimum=1)
if OUTBOX_STALE_SECONDS <= OUTBOX_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("OUTBOX_STALE_SECONDS must be above OUTBOX_HEARTBEAT_SECONDS")
OUTBOX_RESEND_SECONDS = env_int("OUTBOX_RESEND_SECONDS", 120, minimum=1)
OUTBOX_RESEND_MAX_SECONDS = env_int("OUTBOX_RESEND_MAX_SECONDS", 3600, minimum=1)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8, minimum=1)
OUTBOX_SWEEP_BATCH = env_int("OUTBOX_SWEEP_BATCH", 500, minimum=1)
OUTBOX_RETRY_DELAYS = env_seconds_list("OUTBOX_RETRY_SECONDS", (10, 30, 90, 270, 600))
# Fault injection for tests only (a slow render to kill a worker in the middle of): keep 0.
PACKET_RENDER_DELAY_SECONDS = env_int("PACKET_RENDER_DELAY_SECONDS", 0, minimum=0)

# HL7 v2 secure messaging: its settings in their own module (portal/settings_hl7.py).
from portal.settings_hl7 import *  # noqa: E402, F403
from portal.settings_hl7 import HL7_INBOX_SECONDS  # noqa: E402

CELERY_BEAT_SCHEDULE["hl7-inbox"] = {
    "task": "referrals.hl7_inbox",
    "schedule": float(HL7_INBOX_SECONDS),
}

# Production hardening: on whenever DEBUG is off (`manage.py check --deploy` is clean).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # the packet viewer alone allows SAMEORIGIN (referrals/views/packets)
CSRF_COOKIE_HTTPONLY = False  # htmx and fetch read it for the X-CSRFToken header
SESSION_COOKIE_NAME = "portal_session"

# Content Security Policy: nothing inline, nothing from elsewhere. Scripts are static files;
# images may be data: URIs (the QR code); frames only the portal's own (the packet viewer).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}

# Logs: plain lines, or one JSON object a line (LOG_FORMAT=json) for a log collector. Either
# way each line has the request id (portal/request_id.py), and never a patient's details.
LOG_FORMAT = env_str("LOG_FORMAT") or "plain"
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json; got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.request_id.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "portal.request_id.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # boto3's debug lines include request bodies and signed headers.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "s3transfer": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
# The worker logs through the same handler (the format and the request id), not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# /metrics: for staff users, or a scraper sending "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env_str("METRICS_TOKEN") or ""
if METRICS_TOKEN and len(METRICS_TOKEN) < 24:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 24 characters")
