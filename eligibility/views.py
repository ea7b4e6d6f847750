"""POST /api/eligibility: the facts as JSON in, the result as JSON out.

For signed-in users of any role (a referrer waiting for approval included). CSRF applies: send
the `csrftoken` cookie's value in an `X-CSRFToken` header (htmx pages do this from the
`hx-headers` on <body>). Every answer is JSON, errors included, and every limit is checked
before the work it bounds: the rate per user (ELIGIBILITY_API_RATE), then the size of the body
(ELIGIBILITY_API_MAX_BODY_KB), then the length of a batch (ELIGIBILITY_API_MAX_BATCH).
"""

import json
import logging
import math

from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse
from django_ratelimit.core import get_usage

from eligibility.rules import FactsError
from eligibility.service import BatchTooLarge, eligibility_parse, eligibility_result, results_json

logger = logging.getLogger(__name__)

# A 400 names at most this many bad fields (a body of thousands of unknown keys would otherwise
# get an answer far larger than itself), and says how many more there were.
MAX_ERRORS_SHOWN = 100


def _error(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _field_errors(errors: dict) -> JsonResponse:
    shown = dict(list(errors.items())[:MAX_ERRORS_SHOWN])
    body = {"errors": shown}
    if len(errors) > len(shown):
        body["more_errors"] = len(errors) - len(shown)
    return JsonResponse(body, status=400)


def _seconds_until_allowed(request) -> int | None:
    """None if the user may call now (and the call is counted), else seconds to wait.

    django-ratelimit's fixed windows in the default cache (Redis in production, shared by every
    web process). If the cache cannot be reached the call is let through (logged): the checker
    is read-only and bounded per call, so an outage of the cache must not take it down.
    """
    try:
        usage = get_usage(
            request,
            group="eligibility_api",
            key="user",
            rate=settings.ELIGIBILITY_API_RATE,
            increment=True,
        )
    except Exception:
        logger.warning("eligibility API rate limit not checked: the cache is unavailable")
        return None
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, math.ceil(usage["time_left"]))


UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def rate_in_words(rate: str) -> str:
    """ "60/m" -> "60 a minute"; "100/5m" -> "100 every 5 minutes" (django-ratelimit's rates)."""
    count, _, period = rate.partition("/")
    number, unit = period[:-1], UNITS[period[-1]]
    if number and number != "1":
        return f"{count} every {number} {unit}s"
    return f"{count} a {unit}"


def _read_body(request, limit: int) -> bytes | None:
    """The body, or None if it is longer than `limit` bytes (never read past the limit)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def eligibility_api(request):
    if request.method != "POST":
        return _error(405, "Use POST with the facts as a JSON body.", Allow="POST")
    if not request.user.is_authenticated:
        return _error(401, "Sign in to use the eligibility checker.")
    wait = _seconds_until_allowed(request)
    if wait is not None:
        return _error(
            429,
            f"Too many eligibility checks: at most {rate_in_words(settings.ELIGIBILITY_API_RATE)}"
            f" for each person. Try again in {wait} seconds.",
            Retry_After=str(wait),
        )
    limit = settings.ELIGIBILITY_API_MAX_BODY_KB * 1024
    body = _read_body(request, limit)
    if body is None:
        return _error(
            413,
            f"The body is over {settings.ELIGIBILITY_API_MAX_BODY_KB} KB; send smaller batches.",
        )
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        return _field_errors({"body": f"is not valid JSON: {exc.msg}"})
    except UnicodeDecodeError:
        return _field_errors({"body": "is not valid JSON: not UTF-8 text"})
    except RecursionError:
        return _field_errors({"body": "is not valid JSON here: it is nested too deeply"})
    except ValueError:  # e.g. an integer of thousands of digits (Python's int conversion limit)
        return _field_errors({"body": "is not valid JSON here: a number in it is too long"})
    try:
        parsed = eligibility_parse(payload, max_batch=settings.ELIGIBILITY_API_MAX_BATCH)
    except BatchTooLarge as exc:
        return _error(413, f"The list is too long: {exc}.")
    except FactsError as exc:
        return _field_errors(exc.errors)
    if not isinstance(parsed, list):
        return JsonResponse(eligibility_result(parsed))
    return StreamingHttpResponse(results_json(parsed), content_type="application/json")
