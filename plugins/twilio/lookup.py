"""Asking Twilio's API for the current status of messages (for callbacks that never came)."""

import logging

from twilio.base.exceptions import TwilioException
from twilio.base.exceptions import TwilioRestException
from twilio.base.exceptions import TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from portal.providers import ProviderUnavailable
from portal.providers import ProviderUpdate

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 30
TWILIO_API = "https://api.twilio.com"


class RebasedHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, sending the requests meant for api.twilio.com to another base
    URL: a stand-in for Twilio's API (PORTAL_TWILIO_API_URL)."""

    def __init__(self, base, **options):
        super().__init__(**options)
        self.base = base

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base + url.removeprefix(TWILIO_API)
        return super().request(method, url, *args, **kwargs)


def client(settings):
    account = settings.get("PORTAL_TWILIO_ACCOUNT_SID") or ""
    token = settings.get("PORTAL_TWILIO_AUTH_TOKEN") or ""
    if not account or not token:
        raise ProviderUnavailable("set PORTAL_TWILIO_ACCOUNT_SID and PORTAL_TWILIO_AUTH_TOKEN "
                                  "to ask Twilio for statuses", retry=False)
    # Tests hand in a twilio.http.HttpClient that answers as Twilio's API does.
    http = settings.get("TWILIO_HTTP_CLIENT")
    if http is None:
        base = settings.get("PORTAL_TWILIO_API_URL") or ""
        http = (RebasedHttpClient(base, timeout=TIMEOUT_SECONDS) if base
                else TwilioHttpClient(timeout=TIMEOUT_SECONDS))
    return Client(account, token, http_client=http)


def fetch(message_ids, settings):
    api = client(settings)
    updates = []
    for sid in message_ids:
        try:
            message = api.messages(sid).fetch()
        except (TwilioRestException, TwilioServiceException) as error:
            if error.status == 404:
                log.warning("twilio does not know message %s", sid, extra={"message_id": sid})
                continue
            if error.status in (401, 403):
                raise ProviderUnavailable(f"Twilio refused the credentials ({error.status}); "
                                          f"check PORTAL_TWILIO_ACCOUNT_SID and "
                                          f"PORTAL_TWILIO_AUTH_TOKEN", retry=False) from None
            retry = error.status == 429 or error.status >= 500
            detail = getattr(error, "msg", None) or getattr(error, "title", "")
            raise ProviderUnavailable(f"Twilio answered {error.status}: {detail}",
                                      retry=retry) from None
        except (TwilioException, OSError) as error:
            # A timeout or a broken connection: worth asking again later.
            raise ProviderUnavailable(f"Twilio could not be reached: {error}",
                                      retry=True) from None
        code = str(message.error_code) if message.error_code else None
        updates.append(ProviderUpdate(sid, str(message.status).lower(), code))
    return updates
