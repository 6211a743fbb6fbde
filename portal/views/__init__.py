"""The portal's pages, one blueprint per feature."""

from portal.views import api
from portal.views import callbacks
from portal.views import campaigns
from portal.views import dashboard
from portal.views import errors
from portal.views import guide
from portal.views import plugins_page
from portal.views import reports
from portal.views import sync
from portal.views import uploads


def register(app):
    for blueprint in (dashboard.bp, campaigns.bp, reports.bp, guide.bp, plugins_page.bp,
                      callbacks.bp, api.bp, uploads.bp, sync.bp):
        app.register_blueprint(blueprint)
    errors.register(app)

    @app.context_processor
    def portal_globals():
        return {"portal_name": "SMS Campaign Portal"}
