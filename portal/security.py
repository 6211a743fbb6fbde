"""Sessions, sign-in, CSRF protection and security headers."""

from datetime import timedelta

from flask import render_template
from flask.sessions import SecureCookieSessionInterface
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


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, without building a signer for a request that brings
    no cookie and leaves its session alone: callbacks and API calls, most requests under
    load."""

    def open_session(self, app, request):
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if session or session.modified:
            super().save_session(app, session, response)
        elif session.accessed:
            response.vary.add("Cookie")


class SecurityHeaders:
    """WSGI middleware adding HEADERS to every answer that does not set them itself; at this
    level it costs a list append, not a header lookup per name."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.headers = list(HEADERS.items())

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers.extend(pair for pair in self.headers if pair[0].lower() not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


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
    # No sign-in outlives its session (there is no "remember me"), so Flask-Login's refresh
    # of a remember cookie after every request, callbacks included, has nothing to do.
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    access.check_marked(app)

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        message = ("This form was not sent from a page of this portal, or the page is too "
                   "old. Nothing was changed: reload the page and try again.")
        return render_template("error.html", error=error, advice=message), 400

    app.session_interface = SessionCookies()
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
