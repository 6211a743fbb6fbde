"""The status guide: every status, provider status, error kind and error code, from the
same plugin data the campaign page reads."""

from flask import Blueprint
from flask import current_app
from flask import render_template

from portal import access
from portal import statuses
from portal.plugin_manager import current_plugins

bp = Blueprint("guide", __name__)


@bp.get("/guide")
@access.requires("viewer")
def index():
    plugins = current_plugins()
    providers = plugins.providers()
    return render_template(
        "guide.html",
        portal_statuses=statuses.portal_statuses(current_app.config["PORTAL_SUPPORT_CONTACT"],
                                                 current_app.config["PORTAL_QUEUED_WARNING_HOURS"]),
        error_kinds=statuses.ERROR_KINDS,
        invalid_number=plugins.interpret_error("", statuses.INVALID_NUMBER),
        providers=[(provider, plugins.error_catalogue(name))
                   for name, provider in sorted(providers.items())],
    )
