"""gunicorn's settings for the portal: `gunicorn -c portal/gunicorn_conf.py portal.wsgi`.

The Dockerfile, compose and `make bench` use it; the command line may override any of these.
"""

import os

from gunicorn.http import wsgi

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = 120
# Access log to stdout ("-"); GUNICORN_ACCESS_LOG="" turns it off (`make bench` does).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# Method, path and status without the query string or the referrer: a triage search puts a
# patient's name in the query string, and nothing clinical goes into a log.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'

# No "Server: gunicorn/27.0.1" header: naming the server and its version only helps an
# attacker pick an exploit. gunicorn has no setting for it, so its default headers are
# filtered here, once, in the master before the workers fork.
_default_headers = wsgi.Response.default_headers


def _default_headers_without_server(self):
    return [h for h in _default_headers(self) if not h.lower().startswith("server:")]


wsgi.Response.default_headers = _default_headers_without_server


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR set, a worker's request counts are summed across the
    workers at each scrape; a worker that exits leaves its files, marked dead here."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
