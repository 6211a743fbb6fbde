"""Report downloads, in every format an exporter plugin supplies."""

import logging
from urllib.parse import quote

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request

from portal import access
from portal import audit
from portal import reports
from portal.db import db
from portal.plugin_manager import current_plugins

bp = Blueprint("reports", __name__)
log = logging.getLogger(__name__)


@bp.get("/campaigns/<int:campaign_id>/report.<extension>")
@access.requires("viewer")
def download(campaign_id, extension):
    campaign = access.visible_campaign(campaign_id)
    plugins = current_plugins()
    exporter = plugins.exporters().get(extension)
    if exporter is None:
        known = ", ".join(sorted(plugins.exporters())) or "none"
        abort(404, f"No installed exporter writes .{extension} reports. "
                   f"Formats available: {known}.")
    only = request.args.get("only", "")
    if only not in ("", "errors"):
        abort(400, f"only={only!r} is not understood: leave it out for every recipient, "
                   f"or use only=errors for the failed messages.")
    only_errors = only == "errors"

    name = reports.filename(campaign, exporter.extension, only_errors)
    log.info("report download campaign=%s format=%s only_errors=%s", campaign.id,
             exporter.format_id, only_errors,
             extra={"campaign": campaign.id, "format": exporter.format_id})
    body = reports.stream(db.engine, campaign, plugins, exporter, only_errors,
                          audit.event("report.download", campaign.id, format=exporter.format_id,
                                      only_errors=only_errors))
    response = Response(body, content_type=exporter.media_type)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
