"""Read settings from the environment, failing loudly with the variable's name.

A bad value must stop the process at start-up with a message a person can act on
("DEBUG must be one of ..., got 'maybe'"), not surface later as odd behaviour.
"""

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value.strip()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}"
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {number}")
    return number


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def env_colour(name: str, default: str) -> str:
    """A colour as #rrggbb."""
    value = (os.environ.get(name) or "").strip() or default
    if not _COLOUR.fullmatch(value):
        raise ImproperlyConfigured(f"{name} must be a colour written #rrggbb; got {value!r}")
    return value.lower()


_RATE = re.compile(r"[1-9][0-9]*/([1-9][0-9]*)?[smhd]")


def env_rate(name: str, default: str) -> str:
    """A rate as django-ratelimit reads it: a count, a slash, an optional number and s, m, h or d
    ("60/m", "1000/h", "100/5m")."""
    value = (os.environ.get(name) or "").strip() or default
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 60/m, 1000/h or 100/5m (s, m, h, d); got {value!r}"
        )
    return value


def env_seconds_list(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Comma-separated whole seconds, each at least 1 ("10,30,90")."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        numbers = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be whole seconds separated by commas, e.g. 10,30,90; got {value!r}"
        ) from None
    if any(n < 1 for n in numbers):
        raise ImproperlyConfigured(f"{name}: every delay must be at least 1 second; got {value!r}")
    return numbers


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_database(name: str, default: str) -> dict:
    import dj_database_url

    url = os.environ.get(name) or default
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"{name} is not a database URL this portal understands "
            f"(postgres://user:password@host:5432/name or sqlite:///path): {exc}"
        ) from None
    engine = config.get("ENGINE", "")
    if engine not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        scheme = urlsplit(url).scheme
        raise ImproperlyConfigured(
            f"{name} must be a postgres:// or sqlite:// URL; got {scheme}://"
        )
    if engine.endswith("sqlite3"):
        # Several processes (web and worker) share the file: wait for locks, don't fail.
        config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
        config["CONN_MAX_AGE"] = 0
        if config["NAME"] and config["NAME"] != ":memory:":
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
            # Tests use a file too: an in-memory database shared with the live server's
            # threads fails with "table is locked" where a file waits for the lock.
            # One per test process, so concurrent runs never share (or delete) one file.
            test_name = Path(config["NAME"]).with_suffix(f".test-{os.getpid()}.sqlite3")
            config["TEST"] = {"NAME": str(test_name)}
    return config


def env_redis(name: str) -> str | None:
    url = os.environ.get(name)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name} must look like redis://host:6379/0; got a {parts.scheme or 'no'}:// URL"
        )
    try:
        parts.port  # noqa: B018 - urlsplit only validates the port when asked
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a port that is not a number") from None
    return url


def env_email(name: str, default_dir: str) -> dict:
    """EMAIL_URL: smtp://user:pass@host:25, smtp+tls://...:587, smtps://...:465, console://,
    or file:///path. Unset: one file per message under default_dir."""
    url = os.environ.get(name)
    if not url:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": default_dir,
        }
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": unquote(parts.path) or default_dir,
        }
    if parts.scheme in ("smtp", "smtp+tls", "smtps"):
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name} has a port that is not a number") from None
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name} needs a host, e.g. smtp://mail.example:25")
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname,
            "EMAIL_PORT": port or {"smtps": 465, "smtp+tls": 587}.get(parts.scheme, 25),
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
            "EMAIL_USE_SSL": parts.scheme == "smtps",
            "EMAIL_TIMEOUT": 10,
        }
    raise ImproperlyConfigured(
        f"{name} must start with smtp://, smtp+tls://, smtps://, file:// or console://; "
        f"got {parts.scheme or 'no'}://"
    )


def env_storage(name: str, media_root) -> dict:
    """STORAGE_URL: where uploads, packet parts and packets live.

    Unset (or `file:///path`): the local disk, under MEDIA_ROOT (or that path).
    `s3://bucket?endpoint=http://host:8333&region=us-east-1&prefix=portal`: an S3-compatible
    bucket through django-storages; the keys come from AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY (never from the URL, which may be logged or shown).
    """
    url = (os.environ.get(name) or "").strip()
    parts = urlsplit(url)
    if not url or parts.scheme == "file":
        location = unquote(parts.path) if url and parts.path else media_root
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location, "base_url": None},
        }
    if parts.scheme != "s3":
        raise ImproperlyConfigured(
            f"{name} must be s3://bucket?endpoint=... or file:///path; "
            f"got a {parts.scheme or 'no'}:// URL"
        )
    if parts.username or parts.password:
        raise ImproperlyConfigured(
            f"{name} must not carry keys: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    bucket = parts.hostname
    if not bucket:
        raise ImproperlyConfigured(f"{name} needs a bucket name: s3://bucket?endpoint=...")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"endpoint", "region", "prefix", "addressing"}
    if unknown:
        raise ImproperlyConfigured(
            f"{name}: unknown option {', '.join(sorted(unknown))} "
            "(known: endpoint, region, prefix, addressing)"
        )

    def option(key: str) -> str:
        return (query.get(key) or [""])[-1].strip()

    endpoint = option("endpoint") or None
    if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ImproperlyConfigured(f"{name}: endpoint must be an http:// or https:// URL")
    addressing = option("addressing") or ("path" if endpoint else "auto")
    if addressing not in ("path", "virtual", "auto"):
        raise ImproperlyConfigured(f"{name}: addressing must be path, virtual or auto")
    return {
        "BACKEND": "portal.storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": option("region") or "us-east-1",
            "location": option("prefix").strip("/"),
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "addressing_style": addressing,
            "signature_version": "s3v4",
            # Private objects; a name already taken gets a new one, as on the local disk.
            "default_acl": "private",
            "file_overwrite": False,
            # A file read from the bucket is spooled to disk past this, never whole in memory.
            "max_memory_size": 2 * 1024 * 1024,
        },
    }
