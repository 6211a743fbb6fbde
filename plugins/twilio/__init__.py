"""The Twilio provider: its statuses and precedence, and what its error codes mean."""

from plugins.twilio import errors
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
