"""Logs for operators: one line per request and per event, each carrying the request id,
as JSON lines (PORTAL_LOG_FORMAT=json, for log collectors) or as readable text."""

import json
import logging
import re
import secrets
import time

from flask import has_request_context
from flask import request

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
log = logging.getLogger("portal.requests")


ID_KEY = "portal.request_id"
STARTED_KEY = "portal.request_started"


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = (request.environ.get(ID_KEY, "-") if has_request_context()
                                 else "-")
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                "level": record.levelname, "logger": record.name,
                "message": record.getMessage(), "request_id": record.request_id}
        line.update({key: value for key, value in vars(record).items()
                     if key not in STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def make_handler(style, stream=None):
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    if style == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.portal = True
    return handler


def configure(level, style):
    handler = make_handler(style)
    root = logging.getLogger()
    # Replace our own handler from an earlier app; leave anyone else's (pytest's capture).
    for old in [h for h in root.handlers if getattr(h, "portal", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


class RequestLog:
    """WSGI middleware: gives each request an id (the caller's X-Request-ID when it is a
    plausible one), answers with it in X-Request-ID, and logs every request but a static
    file's at INFO with its status and time. Here rather than in Flask's before- and
    after-request functions, each of which costs every request a few microseconds more:
    callbacks come by the thousand a minute."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
        environ[ID_KEY] = request_id
        environ[STARTED_KEY] = started = time.perf_counter()

        def start(status, headers, exc_info=None):
            headers.append(("X-Request-ID", request_id))
            path = environ.get("PATH_INFO", "")
            if log.isEnabledFor(logging.INFO) and not path.startswith("/static/"):
                milliseconds = round((time.perf_counter() - started) * 1000, 1)
                method, code = environ.get("REQUEST_METHOD", ""), int(status[:3])
                log.info("%s %s %s %.1f ms", method, path, code, milliseconds,
                         extra={"method": method, "path": path, "status": code,
                                "duration_ms": milliseconds, "request_id": request_id})
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def request_seconds():
    """Seconds since the current request reached the portal."""
    return time.perf_counter() - request.environ.get(STARTED_KEY, time.perf_counter())


def init_app(app):
    app.wsgi_app = RequestLog(app.wsgi_app)
