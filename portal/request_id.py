"""A request id on every log line: taken from the X-Request-ID a proxy sent (or made), sent
back in the response, and carried to the worker in each task's headers, so one id follows a
doctor's click from the balancer through the web process to the packet the worker renders.

Log lines say what happened to which row (ids, references), never a patient's details.
"""

import contextvars
import logging
import re
import uuid

import pythonjsonlogger.core as _json_core
import pythonjsonlogger.json as _json

logger = logging.getLogger(__name__)
_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
HEADER = "portal_request_id"  # the Celery message header
# An id from outside is kept only if it is short and plain: it is written into every log line.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def current() -> str:
    return _current.get()


def new_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE: every later log line of the request carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _ACCEPTABLE.fullmatch(offered) else new_id()
        request.request_id = request_id
        token = _current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (empty outside a request or task). Django logs a 4xx
    or 5xx after the middleware has returned; its record carries the request, and its id."""

    def filter(self, record):
        if not getattr(record, "request_id", ""):
            record.request_id = _current.get() or getattr(
                getattr(record, "request", None), "request_id", ""
            )
        return True


JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


class JsonFormatter(_json.JsonFormatter):
    """One JSON object a line (LOG_FORMAT=json). Extra attributes are kept (a status code, a
    task's id) except the request that Django attaches to its request log lines: its repr
    has the full path with the query string, where a triage search puts a patient's name."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level",
                                            "name": "logger"})  # fmt: skip
        kwargs.setdefault("reserved_attrs", [*_json_core.RESERVED_ATTRS, "request"])
        super().__init__(*(args or (JSON_FORMAT,)), **kwargs)


# --- Celery: the id travels in the task's headers (connected in portal/celery.py) -------------

_task_tokens: dict[str, contextvars.Token] = {}


def on_before_task_publish(headers=None, **_kwargs):
    request_id = _current.get()
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


def on_task_prerun(task_id=None, task=None, **_kwargs):
    request = getattr(task, "request", None)
    # A task published by the sweeper (no request behind it) gets its own id: its task id.
    request_id = getattr(request, HEADER, None) or (request.get(HEADER) if request else None)
    _task_tokens[task_id] = _current.set(str(request_id or task_id or new_id()))
    logger.info("task %s started (%s)", getattr(task, "name", "?"), task_id)


def on_task_postrun(task_id=None, **_kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _current.reset(token)
        except ValueError:  # set in another context (a thread pool): just clear it
            _current.set("")
