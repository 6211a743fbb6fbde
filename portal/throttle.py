"""Sign-in throttling, per account and per address, counted in the database so that every
web worker on every machine sees the same numbers. Failures are counted for any email
typed, known or not, so the throttle never tells whether an account exists."""

from datetime import timedelta

import sqlalchemy as sa

from portal.db import db
from portal.db import utcnow
from portal.models import SignInFailure

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20


# TODO: the count and the record are separate steps, so a burst of attempts sent at the
# same moment can pass the limits by a few.
def blocked(email, address):
    since = utcnow() - WINDOW
    failures = sa.select(sa.func.count()).select_from(SignInFailure).where(
        SignInFailure.at >= since)
    by_email = db.session.execute(failures.where(SignInFailure.email == email)).scalar()
    by_address = db.session.execute(failures.where(SignInFailure.address == address)).scalar()
    return by_email >= PER_ACCOUNT or by_address >= PER_ADDRESS


def failed(email, address):
    db.session.add(SignInFailure(email=email, address=address))


def forget(email):
    """A successful sign-in clears the account's failures."""
    db.session.execute(sa.delete(SignInFailure).where(SignInFailure.email == email))
