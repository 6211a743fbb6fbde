"""Signing in and out."""

import logging
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from portal import access
from portal import audit
from portal import passwords
from portal import throttle
from portal.db import db
from portal.db import utcnow
from portal.models import User

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

WRONG = "The email or password is not right."
TOO_MANY = ("Too many attempts to sign in. Wait 15 minutes and try again, or ask an admin "
            "to check your account.")


def safe_next(target):
    """Only a path on this portal, never another site."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not (target or "").startswith("/"):
        return url_for("dashboard.index")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
@access.public
def sign_in():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("dashboard.index"))
        return render_template("sign_in.html", email="", error=None,
                               next=request.args.get("next", ""))

    email = request.form.get("email", "").strip().lower()[:254]
    password = request.form.get("password", "")
    where = (request.remote_addr or "")[:64]
    if throttle.blocked(email, where):
        log.warning("sign-in throttled address=%s", where, extra={"address": where})
        return render_template("sign_in.html", email=email, error=TOO_MANY,
                               next=request.form.get("next", "")), 429
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar()
    # The hash is checked whether or not the account exists, so the time taken does not
    # tell either.
    known_hash = user.password_hash if user is not None else passwords.unknown_account()
    password_right = passwords.matches(known_hash, password)
    if user is None or not user.active or not password_right:
        throttle.failed(email, where)
        audit.record(db.session, "sign_in.failed", email=email)
        db.session.commit()
        return render_template("sign_in.html", email=email, error=WRONG,
                               next=request.form.get("next", "")), 401

    throttle.forget(email)
    session.clear()
    session.permanent = True  # expires after the configured idle time
    login_user(user)
    user.last_sign_in_at = utcnow()
    audit.record(db.session, "sign_in")
    db.session.commit()
    return redirect(safe_next(request.form.get("next")))


@bp.post("/sign-out")
@access.requires("viewer")
def sign_out():
    audit.record(db.session, "sign_out")
    current_user.session_version += 1
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.sign_in"))


@bp.get("/healthz")
@access.public
def health():
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}
