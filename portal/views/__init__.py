"""The portal's pages, one blueprint per feature."""

from portal import background
from portal.security import csrf
from portal.views import admin
from portal.views import api
from portal.views import auth
from portal.views import callbacks
from portal.views import campaigns
from portal.views import charts
from portal.views import dashboard
from portal.views import errors
from portal.views import guide
from portal.views import plugins_page
from portal.views import reports
from portal.views import sync
from portal.views import tokens
from portal.views import uploads


def register(app):
    # The API checks bearer tokens and callbacks their signatures; no browser forms there.
    csrf.exempt(api.bp)
    csrf.exempt(callbacks.bp)
    for blueprint in (auth.bp, dashboard.bp, campaigns.bp, reports.bp, guide.bp, plugins_page.bp,
                      callbacks.bp, api.bp, uploads.bp, sync.bp, admin.bp, tokens.bp, charts.bp):
        app.register_blueprint(blueprint)
    errors.register(app)

    @app.context_processor
    def portal_globals():
        return {"portal_name": "SMS Campaign Portal", "job_stopped": background.stopped}
