"""Logs for operators: one line per request and per event, each carrying the request id,
as JSON lines (PORTAL_LOG_FORMAT=json, for log collectors) or as readable text."""

import json
import logging
import re
import secrets
import time

from flask import g
from flask import has_request_context
from flask import request

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
log = logging.getLogger("portal.requests")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
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


def init_app(app):
    @app.before_request
    def _start():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if log.isEnabledFor(logging.INFO) and request.endpoint != "static":
            milliseconds = (time.perf_counter() - g.get("request_started", time.perf_counter()))
            log.info("%s %s %s %.1f ms", request.method, request.path, response.status_code,
                     milliseconds * 1000,
                     extra={"method": request.method, "path": request.path,
                            "status": response.status_code,
                            "duration_ms": round(milliseconds * 1000, 1)})
        return response
