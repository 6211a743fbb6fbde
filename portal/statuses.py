"""The portal's own statuses, the same for every provider, and the error kinds.

A provider plugin maps each of its provider statuses onto one of these; the campaign page,
the guide and the reports all read their meanings and actions from here.
"""

from dataclasses import dataclass

SENT = "SENT"
ERROR = "ERROR"
QUEUED = "QUEUED"
SENDING = "SENDING"

IN_FLIGHT = (QUEUED, SENDING)
FINAL = (SENT, ERROR)
ORDER = (SENT, ERROR, QUEUED, SENDING)

# The core's own error: a number no real person uses, found before or after sending.
INVALID_NUMBER = "invalid-number"

# The rank of an invalid number is above every provider rank: nothing a provider says
# afterwards can make such a message a success.
INVALID_NUMBER_RANK = 1000


@dataclass(frozen=True)
class PortalStatus:
    name: str
    label: str
    meaning: str
    action: str


@dataclass(frozen=True)
class ErrorKind:
    name: str
    label: str
    meaning: str
    action: str


def portal_statuses(support_contact, queued_warning_hours=2):
    """The four statuses with what each tells the user; the queue advice names the support
    contact and the warning threshold from configuration."""
    hours = f"{queued_warning_hours:g}"
    return {
        SENT: PortalStatus(SENT, "Sent", "The SMS reached the recipient's carrier or handset.",
                           "Nothing."),
        ERROR: PortalStatus(ERROR, "Error", "The number was not valid, or the provider "
                            "reported an error code.", "See the error's interpretation."),
        QUEUED: PortalStatus(QUEUED, "Queued", "The provider has the request; new messages "
                             "from one sender start here.",
                             f"Wait. If a message stays queued for more than {hours} hours, "
                             f"contact {support_contact}."),
        SENDING: PortalStatus(SENDING, "Sending", "The provider is handing the message to a "
                              "carrier; this is usually brief.", "Wait."),
    }


ERROR_KINDS = {
    kind.name: kind
    for kind in (
        ErrorKind("bad_number", "Bad number", "The number cannot receive this message, now "
                  "or later.", "Remove these numbers from your database."),
        ErrorKind("temporary", "Temporary", "Delivery failed for a reason that may pass.",
                  "Retry later."),
        ErrorKind("content_consent", "Content or consent", "The message was refused because "
                  "of what it says, or the recipient opted out.",
                  "Review the message text and your consent records."),
        ErrorKind("account_config", "Account or configuration", "The sending account, "
                  "number or request is set up in a way that stops delivery.",
                  "Fix the setting with whoever runs the provider account."),
        ErrorKind("provider_fault", "Provider fault", "The provider or a carrier failed "
                  "internally.", "Retry later; report it to the provider if it persists."),
        ErrorKind("unknown", "Unknown", "The provider reported a code the portal does not "
                  "know.", "Look the code up on the provider's page."),
    )
}
