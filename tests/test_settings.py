"""Settings come from the environment; a bad value stops start-up naming the variable."""

import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_VARS = (
    "DEBUG SECRET_KEY ALLOWED_HOSTS DATABASE_URL REDIS_URL EMAIL_URL MEDIA_ROOT "
    "COAG_PROFILE_MAX_AGE_DAYS SESSION_IDLE_MINUTES CELERY_TASK_SOFT_TIME_LIMIT "
    "CELERY_TASK_TIME_LIMIT SECURE_HSTS_SECONDS CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB "
    "FILE_UPLOAD_TEMP_DIR PORT SITE_URL PRACTICE_COLOUR AUDIT_FOLD_MINUTES BOOKING_HOLIDAYS_REGION "
    "STORAGE_URL LOG_FORMAT METRICS_TOKEN HL7_SEND_HOST HL7_SEND_PORT HL7_MAX_MESSAGE_BYTES"
).split()


def load_settings(monkeypatch, tmp_path, **env):
    """Execute portal/settings.py afresh with exactly these variables set."""
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The settings read in from their own modules (portal/settings_hl7.py) are read afresh too.
    monkeypatch.delitem(sys.modules, "portal.settings_hl7", raising=False)
    return runpy.run_path(str(ROOT / "portal" / "settings.py"))


PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "k" * 40, "ALLOWED_HOSTS": "portal.example"}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DEBUG": "0"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": "k" * 40}, "ALLOWED_HOSTS"),
        ({**PRODUCTION, "DATABASE_URL": "mysql://root@localhost/portal"}, "DATABASE_URL"),
        ({**PRODUCTION, "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({**PRODUCTION, "REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
        ({**PRODUCTION, "REDIS_URL": "redis://127.0.0.1:port/0"}, "REDIS_URL"),
        ({**PRODUCTION, "EMAIL_URL": "ftp://mail.example"}, "EMAIL_URL"),
        ({**PRODUCTION, "COAG_PROFILE_MAX_AGE_DAYS": "thirty"}, "COAG_PROFILE_MAX_AGE_DAYS"),
        ({**PRODUCTION, "COAG_PROFILE_MAX_AGE_DAYS": "0"}, "COAG_PROFILE_MAX_AGE_DAYS"),
        ({**PRODUCTION, "SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES"),
        ({**PRODUCTION, "CELERY_TASK_TIME_LIMIT": "10"}, "CELERY_TASK_TIME_LIMIT"),
        ({**PRODUCTION, "SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS"),
        (
            {**PRODUCTION, "CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB": "300MB"},
            "CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB",
        ),
        ({**PRODUCTION, "FILE_UPLOAD_TEMP_DIR": "/no/such/folder"}, "FILE_UPLOAD_TEMP_DIR"),
        ({**PRODUCTION, "PRACTICE_COLOUR": "navy"}, "PRACTICE_COLOUR"),
        ({**PRODUCTION, "PRACTICE_COLOUR": "#12345"}, "PRACTICE_COLOUR"),
        ({**PRODUCTION, "AUDIT_FOLD_MINUTES": "half an hour"}, "AUDIT_FOLD_MINUTES"),
        ({**PRODUCTION, "BOOKING_HOLIDAYS_REGION": "AU-XX"}, "BOOKING_HOLIDAYS_REGION"),
        ({**PRODUCTION, "PORT": "eighty"}, "PORT"),
        ({**PRODUCTION, "HL7_SEND_HOST": "messaging.internal"}, "HL7_SEND_HOST"),
        ({**PRODUCTION, "HL7_MAX_MESSAGE_BYTES": "12"}, "HL7_MAX_MESSAGE_BYTES"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_bad_setting_stops_start_up_naming_the_variable(monkeypatch, tmp_path, env, variable):
    with pytest.raises(ImproperlyConfigured, match=variable):
        load_settings(monkeypatch, tmp_path, **env)


def test_the_error_message_never_echoes_a_database_password(monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        load_settings(
            monkeypatch, tmp_path, **PRODUCTION, DATABASE_URL="mysql://u:hunter2@db/portal"
        )
    assert "hunter2" not in str(excinfo.value)


def test_with_nothing_set_development_uses_sqlite_and_a_serverless_broker(monkeypatch, tmp_path):
    settings = load_settings(monkeypatch, tmp_path, DEBUG="1")
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["DATABASES"]["default"]["NAME"] == str(tmp_path / "portal.sqlite3")
    assert settings["CELERY_BROKER_URL"] == "filesystem://"
    assert settings["MEDIA_ROOT"] == tmp_path / "media"
    assert settings["EMAIL_FILE_PATH"] == str(tmp_path / "mail")
    assert settings["TIME_ZONE"] == "Australia/Melbourne"
    assert settings["LANGUAGE_CODE"] == "en-au"


def test_production_urls_configure_postgres_redis_and_smtp(monkeypatch, tmp_path):
    settings = load_settings(
        monkeypatch,
        tmp_path,
        **PRODUCTION,
        DATABASE_URL="postgres://portal:pw@db.internal:5432/portal",
        REDIS_URL="redis://cache.internal:6379/1",
        EMAIL_URL="smtp+tls://mailer:secret@smtp.internal:587",
    )
    db = settings["DATABASES"]["default"]
    assert (db["ENGINE"], db["HOST"], db["NAME"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        "portal",
    )
    assert settings["CELERY_BROKER_URL"] == "redis://cache.internal:6379/1"
    assert settings["CACHES"]["default"]["LOCATION"] == "redis://cache.internal:6379/1"
    # A task not acknowledged in time is redelivered: that must outlast the hard time limit.
    visibility = settings["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"]
    assert visibility > settings["CELERY_TASK_TIME_LIMIT"]
    assert (settings["EMAIL_HOST"], settings["EMAIL_PORT"], settings["EMAIL_USE_TLS"]) == (
        "smtp.internal",
        587,
        True,
    )
    assert settings["SESSION_COOKIE_SECURE"] and settings["CSRF_COOKIE_SECURE"]


def test_email_links_follow_the_port_being_served_in_development(monkeypatch, tmp_path):
    assert load_settings(monkeypatch, tmp_path, DEBUG="1")["SITE_URL"] == "http://127.0.0.1:8000"
    served = load_settings(monkeypatch, tmp_path, DEBUG="1", PORT="8101")
    assert served["SITE_URL"] == "http://127.0.0.1:8101"
    # An explicit SITE_URL (production's public address) wins over the port.
    public = load_settings(
        monkeypatch, tmp_path, **PRODUCTION, PORT="8101", SITE_URL="https://referrals.example/"
    )
    assert public["SITE_URL"] == "https://referrals.example"


def test_make_passes_its_port_to_the_settings():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nexport PORT\n" in makefile


def test_celery_is_configured_for_at_least_once_delivery(settings):
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT


def run_manage(*args, env):
    drop = {*SETTINGS_VARS, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_py_reports_a_bad_setting_without_a_traceback(tmp_path):
    result = run_manage("check", env={"DEBUG": "perhaps", "VAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "DEBUG must be one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_stale_age_not_above_the_heartbeat_is_refused_by_name(tmp_path):
    env = {"DEBUG": "1", "VAR_DIR": str(tmp_path), "OUTBOX_HEARTBEAT_SECONDS": "30",
           "OUTBOX_STALE_SECONDS": "30"}  # fmt: skip
    result = run_manage("check", env=env)
    assert result.returncode == 2
    assert "OUTBOX_STALE_SECONDS must be above OUTBOX_HEARTBEAT_SECONDS" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_upload_temp_folder_is_the_portals_own_by_default(tmp_path):
    result = run_manage("sweep_uploads", env={"DEBUG": "1", "VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tmp" / "uploads").is_dir()
    assert f"from {tmp_path / 'tmp' / 'uploads'}" in result.stdout


def test_production_settings_pass_check_deploy(tmp_path):
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "portal.example",
        "VAR_DIR": str(tmp_path),
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_seed_demo_refuses_to_run_with_debug_off(tmp_path):
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "portal.example",
        "VAR_DIR": str(tmp_path),
    }
    result = run_manage("seed_demo", env=env)
    assert result.returncode != 0
    assert "DEBUG" in result.stderr
