"""Twilio's status callbacks: a form POST signed with the account's auth token over the
full URL Twilio called (X-Twilio-Signature)."""

import re

from twilio.request_validator import RequestValidator

from plugins.twilio.statuses import STATUSES
from portal.providers import CallbackRejected
from portal.providers import ProviderUpdate
from portal.providers import Verdict

SIGNATURE_HEADER = "X-Twilio-Signature"
KNOWN = {status.name for status in STATUSES}
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")


def verify(url, form, headers, settings):
    token = settings.get("PORTAL_TWILIO_AUTH_TOKEN") or ""
    if not token:
        return Verdict(False, "PORTAL_TWILIO_AUTH_TOKEN is not set, so no callback can be "
                              "verified")
    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        return Verdict(False, f"the {SIGNATURE_HEADER} header is missing")
    if not RequestValidator(token).validate(url, form, signature):
        return Verdict(False, f"the {SIGNATURE_HEADER} does not match the request for {url} "
                              f"(a wrong auth token, or a public URL other than the one "
                              f"Twilio called)")
    account = settings.get("PORTAL_TWILIO_ACCOUNT_SID") or ""
    if account and form.get("AccountSid") != account:
        return Verdict(False, "the callback is for another Twilio account")
    return Verdict(True)


def parse(form):
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise CallbackRejected("MessageSid is missing")
    if not MESSAGE_SID.fullmatch(sid):
        raise CallbackRejected(f"MessageSid {sid[:40]!r} is not a Twilio message id "
                               f"(SM or MM and 32 hexadecimal digits)")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not status:
        raise CallbackRejected("MessageStatus is missing")
    if status not in KNOWN:
        raise CallbackRejected(f"MessageStatus {status[:30]!r} is not a Twilio status; "
                               f"expected one of {', '.join(sorted(KNOWN))}")
    code = (form.get("ErrorCode") or "").strip()
    if code and not code.isdigit():
        raise CallbackRejected(f"ErrorCode {code[:20]!r} is not a number")
    return ProviderUpdate(sid, status, code or None)
