"""Twilio's REST API for fetching one message, as Twilio answers it: the bodies of its
answers, and a stand-in server on 127.0.0.1 that a separate portal process can reach
through PORTAL_TWILIO_API_URL (the browser tests, and the check that the setting works)."""

import json
import re
import threading
import time
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

from portal.db import utcnow

MESSAGE_PATH = re.compile(r"/2010-04-01/Accounts/(?P<account>AC\w+)/Messages/(?P<sid>\w+)\.json")

# Twilio's error bodies, as its API sends them.
ERRORS = {
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource {path} was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
}


def error_body(status, path):
    code, message = ERRORS[status]
    body = {"code": code, "message": message.format(path=path),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    if status == 401:
        body["detail"] = "Your AccountSid or AuthToken was incorrect."
    return body


def message_resource(account, message_sid, status, error_code):
    now = format_datetime(utcnow(), usegmt=False)
    path = f"/2010-04-01/Accounts/{account}/Messages/{message_sid}.json"
    return {
        "account_sid": account, "api_version": "2010-04-01", "body": "Your appointment is "
        "tomorrow at 9:00.", "date_created": now, "date_sent": now, "date_updated": now,
        "direction": "outbound-api", "error_code": int(error_code) if error_code else None,
        "error_message": None, "from": "+6580000000", "messaging_service_sid": None,
        "num_media": "0", "num_segments": "1", "price": "-0.04", "price_unit": "USD",
        "sid": message_sid, "status": status, "to": "+6581234567", "uri": path,
        "subresource_uris": {"media": path.replace(".json", "/Media.json")},
    }


def message_answer(path, account, messages, fallback=None):
    """(HTTP status, body) of Twilio's answer to GET ``path`` for ``account``, from
    ``messages`` (sid -> (status, error code)); a sid it does not know gets ``fallback``
    when set, else Twilio's 404."""
    match = MESSAGE_PATH.fullmatch(path)
    if match is None:
        return 404, error_body(404, path)
    if match["account"] != account:
        return 401, error_body(401, path)
    known = messages.get(match["sid"]) or fallback
    if not known:
        return 404, error_body(404, path)
    return 200, message_resource(match["account"], match["sid"], *known)


class TwilioStandIn:
    """Answers GET .../Messages/<sid>.json over HTTP from ``messages`` (sid -> (status,
    error code)), after ``delay`` seconds, for ``account`` only; every path asked is kept
    in ``asked``. A sid it does not know gets ``fallback`` when set, else Twilio's 404."""

    def __init__(self, account, delay=0.0):
        self.account = account
        self.delay = delay
        self.messages = {}
        self.fallback = None
        self.asked = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                standin.asked.append(self.path)
                time.sleep(standin.delay)
                self.answer(*message_answer(self.path, standin.account, standin.messages,
                                            standin.fallback))

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet: pytest shows what matters
                pass

        return Handler

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
