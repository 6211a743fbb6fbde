"""Phone numbers: the core, not a provider, decides whether one is real."""

import phonenumbers


def normalise(raw, default_region):
    """Return the E.164 form of ``raw``, or None when no real person can use it.

    A number without ``+`` is read in ``default_region``; there, an international prefix
    such as ``00`` in Singapore is understood. Valid US and Canadian numbers are reported
    as FIXED_LINE_OR_MOBILE by phonenumbers, so validity, not the line type, decides.
    """
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(number):
    """A number fit for a log line: the country part and the last two digits only."""
    text = str(number or "")
    if len(text) <= 5:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 5) + text[-2:]
