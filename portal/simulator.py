"""A stand-in for Twilio: realistic status callbacks for in-flight messages, signed as
Twilio signs them and posted over HTTP to the portal's callback URL, some late, some twice
and some out of order. The live demo and the callback benchmark use it."""

import http.client
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from portal import statuses
from portal.models import Message
from portal.models import unsent

# (weight, callbacks after the message's current in-flight status)
OUTCOMES = (
    (80, (("sending", None), ("sent", None), ("delivered", None))),
    (6, (("sending", None), ("sent", None))),
    (5, (("sending", None), ("undelivered", "30003"))),
    (3, (("sending", None), ("undelivered", "30005"))),
    (2, (("sending", None), ("undelivered", "30006"))),
    (2, (("failed", "30007"),)),
    (1, (("failed", "21610"),)),
    (1, (("sending", None), ("sent", None), ("undelivered", "30008"))),
)
SHUFFLED_SHARE = 0.15
DUPLICATED_SHARE = 0.08


@dataclass(frozen=True)
class Callback:
    message_sid: str
    status: str
    error_code: str | None

    def form(self, account_sid):
        form = {"MessageSid": self.message_sid, "SmsSid": self.message_sid,
                "MessageStatus": self.status, "SmsStatus": self.status,
                "AccountSid": account_sid, "ApiVersion": "2010-04-01"}
        if self.error_code:
            form["ErrorCode"] = self.error_code
        return form


def plan(message_sids, rng):
    """Every callback for ``message_sids``, in the order they will be sent: messages
    interleaved, a share of each message's callbacks swapped, a share sent twice."""
    weights = [weight for weight, _ in OUTCOMES]
    sequences = []
    for message_sid in message_sids:
        (steps,) = rng.choices([steps for _, steps in OUTCOMES], weights=weights)
        callbacks = [Callback(message_sid, status, code) for status, code in steps]
        if len(callbacks) > 1 and rng.random() < SHUFFLED_SHARE:
            index = rng.randrange(len(callbacks) - 1)
            callbacks[index], callbacks[index + 1] = callbacks[index + 1], callbacks[index]
        if rng.random() < DUPLICATED_SHARE:
            callbacks.append(rng.choice(callbacks))
        sequences.append(callbacks)
    # Interleave: each message's callbacks keep their (possibly swapped) order, but spread
    # out among the others', as they would be when carriers answer at their own pace.
    ordered = []
    pending = [list(reversed(sequence)) for sequence in sequences]
    while pending:
        index = rng.randrange(len(pending))
        ordered.append(pending[index].pop())
        if not pending[index]:
            pending[index] = pending[-1]
            pending.pop()
    return ordered


class Sender:
    """Posts signed callbacks to ``url`` with keep-alive connections, one per thread."""

    def __init__(self, url, auth_token, account_sid):
        self.url = url
        self.parts = urllib.parse.urlsplit(url)
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.local = threading.local()
        self.lock = threading.Lock()
        self.answers = {}
        self.connections = []

    def _connection(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.parts.hostname, self.parts.port or 80,
                                                    timeout=30)
            self.local.connection = connection
            with self.lock:
                self.connections.append(connection)
        return connection

    def send(self, callback):
        form = callback.form(self.account_sid)
        body = urllib.parse.urlencode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": self.validator.compute_signature(self.url, form)}
        for attempt in range(3):
            try:
                connection = self._connection()
                connection.request("POST", self.parts.path or "/", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                break
            except (OSError, http.client.HTTPException):
                self.local.connection.close()
                self.local.connection = None
                if attempt == 2:
                    status = "connection failed"
        with self.lock:
            self.answers[status] = self.answers.get(status, 0) + 1
        return status

    def send_all(self, callbacks, workers=4, per_second=None):
        """Send every callback; at most ``per_second`` a second when given."""
        interval = 1 / per_second if per_second else 0
        started = time.perf_counter()

        def paced(item):
            index, callback = item
            if interval:
                delay = started + index * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            return self.send(callback)

        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(paced, enumerate(callbacks)))
        finally:
            for connection in self.connections:
                connection.close()
        return dict(self.answers)


def in_flight_sids(connection, campaign_id):
    return connection.execute(
        sa.select(Message.provider_message_id)
        .where(Message.campaign_id == campaign_id, Message.status.in_(statuses.IN_FLIGHT),
               unsent(Message.status), Message.provider_message_id.is_not(None))
        .order_by(Message.id)).scalars().all()


def wait_for(url, seconds=30):
    """Wait until something answers at ``url``'s host and port."""
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=1)
            connection.connect()
            connection.close()
            return True
        except OSError:
            time.sleep(0.3)
    return False

