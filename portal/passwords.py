"""Password hashing: Werkzeug's salted scrypt, slow on purpose."""

from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

MINIMUM_LENGTH = 12


def hash_password(password):
    return generate_password_hash(password, method="scrypt")


def matches(password_hash, password):
    return check_password_hash(password_hash, password)


def problem(password):
    """What is wrong with a new password, or None."""
    if len(password) < MINIMUM_LENGTH:
        return f"A password needs at least {MINIMUM_LENGTH} characters."
    return None
