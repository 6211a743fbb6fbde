"""Phone numbers are the core's: E.164 or invalid, read in the configured region."""

import pytest

from portal.phones import masked
from portal.phones import normalise


@pytest.mark.parametrize("raw, region, expected", [
    ("+65 8123 4567", "SG", "+6581234567"),
    ("8123 4567", "SG", "+6581234567"),
    ("001 65 8123 4567", "SG", "+6581234567"),  # 001 is an international prefix in SG
    ("+1 415 555 2671", "SG", "+14155552671"),  # FIXED_LINE_OR_MOBILE, and valid
    ("020 7946 0958", "GB", "+442079460958"),
    ("+65 1234", "SG", None),
    ("12", "SG", None),
    ("not a number", "SG", None),
    ("", "SG", None),
    (None, "SG", None),
])
def test_normalise(raw, region, expected):
    assert normalise(raw, region) == expected


def test_in_singapore_0065_is_not_plus_65():
    # SG's international prefixes are 00X: 0065… dials 006 then +58…, not a Singapore number.
    assert normalise("0065 8123 4567", "SG") != "+6581234567"


def test_masked_numbers_keep_only_the_ends():
    assert masked("+6581234567") == "+65******67"
    assert "8123" not in masked("+6581234567")
