"""Password hashing: Werkzeug's salted scrypt, slow on purpose."""

import functools

from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

MINIMUM_LENGTH = 12


@functools.cache
def unknown_account():
    """A hash checked when nobody has the email typed, so that a wrong email takes as long
    as a wrong password."""
    return generate_password_hash("no account has this password", method="scrypt")


def hash_password(password):
    return generate_password_hash(password, method="scrypt")


def matches(password_hash, password):
    return check_password_hash(password_hash, password)


def problem(password):
    """What is wrong with a new password, or None."""
    if len(password) < MINIMUM_LENGTH:
        return f"A password needs at least {MINIMUM_LENGTH} characters."
    return None
