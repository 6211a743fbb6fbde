"""What a provider plugin describes: its statuses, their precedence and its error codes."""

from dataclasses import dataclass
from functools import cached_property

from portal import statuses


@dataclass(frozen=True)
class ProviderStatus:
    """One of the provider's own status words and what it means in the portal.

    ``rank`` orders every status of the provider into one precedence: a message only ever
    moves to a status of higher rank, so callbacks that arrive late, twice or out of order
    cannot undo what is known.
    """

    name: str
    status: str
    rank: int
    meaning: str
    action: str


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    statuses: tuple
    website: str = ""

    def status(self, name):
        """The ProviderStatus called ``name``, or None for a word the provider never uses."""
        return self.by_name.get(name)

    @cached_property
    def by_name(self):
        return {status.name: status for status in self.statuses}


@dataclass(frozen=True)
class ErrorInterpretation:
    """What one error code means for the person who sent the campaign."""

    provider: str
    code: str
    title: str
    meaning: str
    action: str
    kind: str
    link: str = ""
    known: bool = True

    @property
    def kind_label(self):
        return statuses.ERROR_KINDS[self.kind].label


INVALID_NUMBER = ErrorInterpretation(
    provider="",
    code=statuses.INVALID_NUMBER,
    title="Invalid phone number",
    meaning="No real person uses this number: it is too short, too long, or not a number "
            "that any operator hands out. The portal found it before or after sending.",
    action="Remove these numbers from your database.",
    kind="bad_number",
)


def unknown_error(provider, code, link=""):
    """The interpretation given to a code no plugin knows, so it is still counted and shown."""
    return ErrorInterpretation(
        provider=provider,
        code=code,
        title=f"Unknown error {code}",
        meaning=f"The provider reported error {code}, which the portal does not know yet.",
        action="Look the code up on the provider's page, then act on what it says.",
        kind="unknown",
        link=link,
        known=False,
    )


@dataclass(frozen=True)
class ProviderUpdate:
    """A status a provider reports for one of its messages (from a callback or a look-up)."""

    provider_message_id: str
    provider_status: str
    error_code: str | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether a callback really came from the provider; ``reason`` says why not."""

    ok: bool
    reason: str = ""


class CallbackRejected(ValueError):
    """A callback that cannot be read (no message id, an unknown status, …); the message
    says what was wrong, for the caller and the log."""


class ProviderUnavailable(RuntimeError):
    """The provider's API did not answer usefully. ``retry`` tells whether asking again
    later may help (rate limits, server errors) or not (bad credentials)."""

    def __init__(self, message, retry=False):
        super().__init__(message)
        self.retry = retry
