"""The Twilio provider: its statuses and precedence, what its error codes mean, how its
callbacks are verified and read, and how its API is asked for statuses."""

from plugins.twilio import callbacks
from plugins.twilio import errors
from plugins.twilio import lookup
from plugins.twilio.statuses import STATUSES
from portal import hookimpl
from portal.providers import Provider

TWILIO = Provider(name=errors.PROVIDER, label="Twilio", statuses=STATUSES,
                  website="https://www.twilio.com")


@hookimpl
def portal_providers():
    return [TWILIO]


@hookimpl
def portal_interpret_error(provider, code):
    if provider != errors.PROVIDER:
        return None
    return errors.interpret(code)


@hookimpl
def portal_error_catalogue(provider):
    if provider != errors.PROVIDER:
        return None
    return sorted(errors.catalogue().values(), key=lambda error: int(error.code))


@hookimpl
def portal_verify_callback(provider, url, form, headers, settings):
    if provider != errors.PROVIDER:
        return None
    return callbacks.verify(url, form, headers, settings)


@hookimpl
def portal_parse_callback(provider, form):
    if provider != errors.PROVIDER:
        return None
    return callbacks.parse(form)


@hookimpl
def portal_fetch_statuses(provider, provider_message_ids, settings):
    if provider != errors.PROVIDER:
        return None
    return lookup.fetch(provider_message_ids, settings)
