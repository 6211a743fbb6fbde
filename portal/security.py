"""Sessions, sign-in, CSRF protection and security headers."""

from datetime import timedelta

from flask import render_template
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import CSRFProtect

from portal import access
from portal.models import User

csrf = CSRFProtect()
login_manager = LoginManager()

# No inline script anywhere: htmx is a file, configured by a <meta> tag.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; object-src 'none'; base-uri 'self'; "
                           "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@login_manager.user_loader
def load_user(session_id):
    """The user of a session id "<user id>.<session version>", if that session still
    counts: the user is active and has not signed out (or been disabled) since."""
    user_id, _, version = session_id.partition(".")
    user = access.get_by_id(User, access.parse_id(user_id))
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    return access.sign_in_first()


def init_app(app):
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["PORTAL_SESSION_IDLE_MINUTES"]),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["PORTAL_PUBLIC_URL"].startswith("https://"),
        # The token is checked per request; a form stays valid while the session lives.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_HEADERS=["X-CSRFToken"],
    )
    app.config.setdefault("WTF_CSRF_ENABLED", True)
    csrf.init_app(app)
    login_manager.init_app(app)
    access.check_marked(app)

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        message = ("This form was not sent from a page of this portal, or the page is too "
                   "old. Nothing was changed: reload the page and try again.")
        return render_template("error.html", error=error, advice=message), 400

    @app.after_request
    def headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
