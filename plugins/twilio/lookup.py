"""Asking Twilio's API for the current status of messages (for callbacks that never came)."""

import logging

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from portal.providers import ProviderUnavailable
from portal.providers import ProviderUpdate

log = logging.getLogger(__name__)


def client(settings):
    account = settings.get("PORTAL_TWILIO_ACCOUNT_SID") or ""
    token = settings.get("PORTAL_TWILIO_AUTH_TOKEN") or ""
    if not account or not token:
        raise ProviderUnavailable("set PORTAL_TWILIO_ACCOUNT_SID and PORTAL_TWILIO_AUTH_TOKEN "
                                  "to ask Twilio for statuses", retry=False)
    # Tests hand in a twilio.http.HttpClient that answers as Twilio's API does.
    return Client(account, token, http_client=settings.get("TWILIO_HTTP_CLIENT"))


def fetch(message_ids, settings):
    api = client(settings)
    updates = []
    for sid in message_ids:
        try:
            message = api.messages(sid).fetch()
        except TwilioRestException as error:
            if error.status == 404:
                log.warning("twilio does not know message %s", sid, extra={"message_id": sid})
                continue
            if error.status in (401, 403):
                raise ProviderUnavailable(f"Twilio refused the credentials ({error.status}); "
                                          f"check PORTAL_TWILIO_ACCOUNT_SID and "
                                          f"PORTAL_TWILIO_AUTH_TOKEN", retry=False) from None
            retry = error.status == 429 or error.status >= 500
            raise ProviderUnavailable(f"Twilio answered {error.status}: {error.msg}",
                                      retry=retry) from None
        code = str(message.error_code) if message.error_code else None
        updates.append(ProviderUpdate(sid, str(message.status).lower(), code))
    return updates
