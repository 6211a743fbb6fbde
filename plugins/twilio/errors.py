"""Twilio's error codes: the official titles, and meanings and actions written for the
people who send campaigns. The data is in error_codes.csv beside this module."""

import csv
from functools import cache
from pathlib import Path

from portal.providers import ErrorInterpretation
from portal.providers import unknown_error

PROVIDER = "twilio"
CODES_FILE = Path(__file__).with_name("error_codes.csv")


def link(code):
    return f"https://www.twilio.com/docs/api/errors/{code}"


@cache
def catalogue():
    """{code: ErrorInterpretation} for every code Twilio publishes for messaging."""
    with CODES_FILE.open(encoding="utf-8", newline="") as handle:
        return {
            row["code"]: ErrorInterpretation(
                provider=PROVIDER, code=row["code"], title=row["title"],
                meaning=row["meaning"], action=row["action"], kind=row["kind"],
                link=link(row["code"]))
            for row in csv.DictReader(handle)
        }


def interpret(code):
    known = catalogue().get(code)
    if known is not None:
        return known
    # Still linked: Twilio's page is the quickest way to learn what a new code means.
    return unknown_error(PROVIDER, code, link(code) if code.isdigit() else "")
