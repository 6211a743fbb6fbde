"""Twilio's message statuses, what each means in the portal, and their precedence.

Ranks run in flight < sent < delivered < read < error, so a late ``sent`` never undoes a
``delivered`` and an error outranks a success whichever came first.
"""

from portal import statuses
from portal.providers import ProviderStatus

STATUSES = (
    ProviderStatus("accepted", statuses.QUEUED, 10,
                   "A Messaging Service accepted the request and is choosing a sender.",
                   "Wait."),
    ProviderStatus("scheduled", statuses.QUEUED, 20,
                   "The message is scheduled and will be queued at its send time.", "Wait."),
    ProviderStatus("queued", statuses.QUEUED, 30,
                   "Twilio holds the message in the sender's queue; new messages start here.",
                   "Wait; if it stays queued for hours, contact support."),
    ProviderStatus("sending", statuses.SENDING, 40,
                   "Twilio is handing the message to the carrier.", "Wait."),
    ProviderStatus("receiving", statuses.SENDING, 42,
                   "An inbound message is arriving; campaign messages do not use it.",
                   "Wait."),
    ProviderStatus("sent", statuses.SENT, 50,
                   "The carrier accepted the message. No delivery receipt has come (yet); many "
                   "carriers never send one.", "Nothing."),
    ProviderStatus("received", statuses.SENT, 55,
                   "An inbound message arrived; campaign messages do not use it.", "Nothing."),
    ProviderStatus("delivered", statuses.SENT, 60,
                   "A delivery receipt confirmed the message reached the handset.", "Nothing."),
    ProviderStatus("read", statuses.SENT, 70,
                   "The recipient opened the message (channels with read receipts only).",
                   "Nothing."),
    ProviderStatus("partially_delivered", statuses.ERROR, 78,
                   "Only some parts of the message arrived, so it did not arrive whole.",
                   "See the error's interpretation."),
    ProviderStatus("canceled", statuses.ERROR, 80,
                   "The message was canceled before it was sent (a scheduled message, or one "
                   "canceled by the sender).", "Send it again if it is still needed."),
    ProviderStatus("undelivered", statuses.ERROR, 85,
                   "The carrier reported that the message could not be delivered.",
                   "See the error's interpretation."),
    ProviderStatus("failed", statuses.ERROR, 90,
                   "The message could not be sent: Twilio or the carrier refused it.",
                   "See the error's interpretation."),
)
