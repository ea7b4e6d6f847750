"""The portal's settings: one module, read from the environment (see .env.example and README).

With nothing set it runs for development on SQLite and a broker that needs no server. With
DEBUG off, values that production needs have no default and their absence stops start-up.
"""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_database,
    env_email,
    env_int,
    env_list,
    env_rate,
    env_redis,
    env_seconds_list,
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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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
    "django.contrib.auth.backends.ModelBackend",
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
SESSION_SAVE_EVERY_REQUEST = True
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
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    },
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
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or None
if FILE_UPLOAD_TEMP_DIR and not Path(FILE_UPLOAD_TEMP_DIR).is_dir():
    raise ImproperlyConfigured(f"FILE_UPLOAD_TEMP_DIR: no such folder: {FILE_UPLOAD_TEMP_DIR}")

# Email: files under var/mail unless EMAIL_URL says otherwise.
globals().update(env_email("EMAIL_URL", str(VAR_DIR / "mail")))
DEFAULT_FROM_EMAIL = (
    env_str("DEFAULT_FROM_EMAIL") or "Vertebroplasty referrals <referrals@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Eligibility: how old the latest coagulation profile may be (the work-up item).
COAG_PROFILE_MAX_AGE_DAYS = env_int("COAG_PROFILE_MAX_AGE_DAYS", 30, minimum=1)
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
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "sweep-packets": {"task": "referrals.sweep_packets", "schedule": 60.0},
    "sweep-notifications": {"task": "referrals.sweep_notifications", "schedule": 60.0},
}

# The outbox (referrals/outbox.py: packets and emails): a row still queued OUTBOX_RESEND_SECONDS
# after it was published is published again (the broker lost it); one "working" for longer than
# OUTBOX_STALE_SECONDS is taken back (its worker died: the hard time limit has long passed); a
# transient failure is retried after each of OUTBOX_RETRY_SECONDS in turn, then marked failed.
OUTBOX_RESEND_SECONDS = env_int("OUTBOX_RESEND_SECONDS", 120, minimum=1)
OUTBOX_STALE_SECONDS = env_int("OUTBOX_STALE_SECONDS", CELERY_TASK_TIME_LIMIT + 60, minimum=1)
OUTBOX_RETRY_DELAYS = env_seconds_list("OUTBOX_RETRY_SECONDS", (10, 30, 90, 270, 600))
# Fault injection for tests only (a slow render to kill a worker in the middle of): keep 0.
PACKET_RENDER_DELAY_SECONDS = env_int("PACKET_RENDER_DELAY_SECONDS", 0, minimum=0)

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
