"""Settings from environment variables that start with ``PORTAL_``.

Each setting is read and checked once at start-up; a wrong value stops the portal with a
message that names the variable and says what it expects.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import click
import phonenumbers

PREFIX = "PORTAL_"


class ConfigError(click.ClickException):
    """A configuration value is wrong. A ClickException, so the ``flask`` CLI prints the
    message alone instead of a traceback."""

    def __init__(self, variable, expected, value):
        self.variable = variable
        super().__init__(f"{variable}={value!r} is not valid: {expected}")


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    parse: object = str

    @property
    def variable(self):
        return PREFIX + self.name


def instance_path(environ=None):
    """PORTAL_INSTANCE_PATH, read before the app exists (Flask needs it to be made): an
    absolute folder, or None for Flask's own default."""
    value = (os.environ if environ is None else environ).get(PREFIX + "INSTANCE_PATH", "")
    if value and not os.path.isabs(value):
        raise ConfigError(PREFIX + "INSTANCE_PATH", "expected an absolute path, like "
                          "/var/lib/portal", value)
    return value or None


def _region(value):
    region = value.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("expected a two-letter region code that phonenumbers knows, like SG")
    return region


def _contact(value):
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+|https?://\S+", value):
        raise ValueError("expected an e-mail address or an http(s) URL")
    return value


def _positive_number(value):
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a positive number") from None
    if number <= 0:
        raise ValueError("expected a positive number")
    return number


def _database_url(value):
    if not re.match(r"^(sqlite|postgresql(\+psycopg)?)://", value):
        raise ValueError("expected sqlite:///path/to/file.db or postgresql://user@host/db")
    # PostgreSQL is reached through psycopg 3, whatever the URL names.
    return re.sub(r"^postgresql://", "postgresql+psycopg://", value)


def _log_format(value):
    if value not in ("text", "json"):
        raise ValueError("expected text or json")
    return value


def _public_url(value):
    if value and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
        raise ValueError("expected the portal's public base URL, like https://sms.example.gov")
    return value.rstrip("/")


def _api_url(value):
    base = value.rstrip("/")
    if base and not re.fullmatch(r"https://[^/\s?#]+|http://(127\.0\.0\.1|localhost|\[::1\])"
                                 r"(:\d+)?", base):
        raise ValueError("expected an https:// base URL without a path (http:// only on this "
                         "machine, like http://127.0.0.1:8900): the auth token goes with it")
    return base


def _count(value):
    if not value.isdigit():
        raise ValueError("expected a whole number, 0 or more")
    return int(value)


def _log_level(value):
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR")
    return level


SETTINGS = (
    Setting("DATABASE_URL", "", "SQLAlchemy URL of the database; empty means "
            "an SQLite file in the instance folder", _database_url),
    Setting("SECRET_KEY", "", "key that signs sessions; set a long random value in production"),
    Setting("DEFAULT_REGION", "SG", "region for phone numbers written without +", _region),
    Setting("SUPPORT_CONTACT", "support@example.gov", "where people ask for help with a "
            "message stuck in the queue (e-mail address or URL)", _contact),
    Setting("QUEUED_WARNING_HOURS", "2", "hours after which a QUEUED message is called stuck",
            _positive_number),
    Setting("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR", _log_level),
    Setting("LOG_FORMAT", "text", "text (readable) or json (one JSON object a line)",
            _log_format),
    Setting("PUBLIC_URL", "", "the base URL providers call, when the portal sits behind a "
            "proxy; callback signatures are checked against it", _public_url),
    Setting("TRUSTED_PROXIES", "0", "how many proxies in front of the portal set "
            "X-Forwarded-* headers that may be believed", _count),
    Setting("TWILIO_ACCOUNT_SID", "", "the Twilio account whose messages are synced and "
            "whose callbacks are accepted"),
    Setting("TWILIO_AUTH_TOKEN", "", "the Twilio auth token that signs callbacks"),
    Setting("TWILIO_API_URL", "", "where a sync reaches Twilio's REST API; empty means "
            "https://api.twilio.com (the browser tests point it at a local stand-in)", _api_url),
    Setting("SESSION_IDLE_MINUTES", "30", "minutes without a request after which a person "
            "must sign in again", _positive_number),
    Setting("RETENTION_DAYS", "365", "days after a campaign's send date when its phone "
            "numbers are redacted by 'flask --app portal retention run'", _positive_number),
    Setting("SYNC_AFTER_HOURS", "12", "how old a message that is not final must be before "
            "a sync asks the provider about it", _positive_number),
)


def load(environ=None, instance_path="instance"):
    """Read every setting from ``environ`` into Flask config keys (``PORTAL_…``).

    Raises ConfigError on the first bad value.
    """
    environ = os.environ if environ is None else environ
    values = {}
    for setting in SETTINGS:
        raw = environ.get(setting.variable, setting.default)
        if setting.name == "DATABASE_URL" and not raw:
            values[setting.variable] = "sqlite:///" + str(Path(instance_path) / "portal.db")
            continue
        try:
            values[setting.variable] = setting.parse(raw)
        except ValueError as error:
            raise ConfigError(setting.variable, str(error), raw) from None
    if not values["PORTAL_SECRET_KEY"]:
        values["PORTAL_SECRET_KEY"] = "development only: set PORTAL_SECRET_KEY"
    return values
