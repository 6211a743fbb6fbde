"""Report downloads, in every format an exporter plugin supplies: streamed straight to the
browser, or prepared as a file by a background job whose progress the campaign page shows,
then downloaded when it is ready."""

import logging
from urllib.parse import quote

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import request
from flask import send_file
from flask import url_for

from portal import access
from portal import audit
from portal import background
from portal import reports
from portal.db import db
from portal.models import Campaign
from portal.models import Job
from portal.plugin_manager import current_plugins
from portal.views import partials

bp = Blueprint("reports", __name__)
log = logging.getLogger(__name__)


def requested_report(campaign_id, extension):
    """(campaign, plugins, exporter, only_errors) that the URL asks for, or the 404 or 400
    that says what is wrong with it."""
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
    return campaign, plugins, exporter, only == "errors"


def report_event(action, campaign, exporter, only_errors, **details):
    """The audit entry of something done with a report, for whoever makes this request."""
    return audit.event(action, campaign.id, format=exporter.format_id,
                       only_errors=only_errors, **details)


def as_attachment(response, campaign, exporter, only_errors):
    name = reports.filename(campaign, exporter.extension, only_errors)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/campaigns/<int:campaign_id>/report.<extension>")
@access.requires("viewer")
def download(campaign_id, extension):
    campaign, plugins, exporter, only_errors = requested_report(campaign_id, extension)
    log.info("report download campaign=%s format=%s only_errors=%s", campaign.id,
             exporter.format_id, only_errors,
             extra={"campaign": campaign.id, "format": exporter.format_id})
    body = reports.stream(db.engine, campaign, plugins, exporter, only_errors,
                          report_event("report.download", campaign, exporter, only_errors))
    response = Response(body, content_type=exporter.media_type)
    return as_attachment(response, campaign, exporter, only_errors)


# Prepared reports

ONE_AT_A_TIME = ("A report of this campaign is being prepared already, and one is prepared at a "
                 "time: here is its progress. Once it is ready, you can prepare another.")


def prepared_folder():
    return reports.prepared_folder(current_app)


def _run(job_id, campaign_id, extension, only_errors, audit_event):
    campaign = db.session.get(Campaign, campaign_id)
    job = db.session.get(Job, job_id)
    db.session.close()  # their columns stay loaded; no transaction stays open meanwhile
    plugins = current_plugins()
    path = reports.prepared_path(prepared_folder(), job, extension, only_errors)
    reports.run_job(db.engine, job_id, campaign, plugins, plugins.exporters()[extension],
                    only_errors, path, audit_event)


def launch(job_id, campaign, exporter, only_errors, audit_event):
    """Write the prepared report in the background (see portal.background)."""
    background.start(f"portal-report-{job_id}", _run, job_id, campaign.id, exporter.extension,
                     only_errors, audit_event)


def report_job(campaign_id, job_id):
    """(campaign, job) when the job is a report job of a campaign the user may see; else
    the same 404 as for a missing one."""
    campaign = access.visible_campaign(campaign_id)
    job = access.get_by_id(Job, job_id)
    if job is None or job.kind != reports.JOB_KIND or job.campaign_id != campaign.id:
        abort(404, f"Campaign {campaign.id} has no prepared report {job_id}. Prepare one "
                   f"from the campaign's page.")
    return campaign, job


def _prepared_file(job):
    """(path, extension, only_errors) of the finished job's file, or None when there is none
    to offer. An expired job's file is removed here, not left for the next sweep."""
    if job.state != reports.DONE:
        return None
    found = reports.find_prepared(prepared_folder(), job, current_plugins().exporters())
    if found is not None and reports.expired(job):
        found[0].unlink(missing_ok=True)
        return None
    return found


def show_progress(campaign, job, note=None):
    """How far the job has come: the partial the page polls (with HX-Redirect to the file
    once it is ready), or opened directly, a page."""
    ready = _prepared_file(job) is not None
    file_url = url_for("reports.prepared_file", campaign_id=campaign.id, job_id=job.id)
    response = partials.render("report_job.html", "partials/report_progress.html",
                               campaign=campaign, job=job, ready=ready, file_url=file_url,
                               note=note)
    if ready and partials.wants_partial():
        response.headers["HX-Redirect"] = file_url
    return response


@bp.post("/campaigns/<int:campaign_id>/report.<extension>/prepare")
@access.requires("viewer")
def prepare(campaign_id, extension):
    """Start writing the report to a file, and show its progress; or, while another report
    of the campaign is being written, show that one's."""
    campaign, _plugins, exporter, only_errors = requested_report(campaign_id, extension)
    folder = prepared_folder()
    folder.mkdir(parents=True, exist_ok=True)
    reports.remove_expired_files(db.engine, folder)
    job_id, new = reports.start_job(db.engine, campaign.id, exporter, only_errors)
    if new:
        launch(job_id, campaign, exporter, only_errors,
               report_event("report.prepare", campaign, exporter, only_errors))
    note = None if new else ONE_AT_A_TIME
    if not partials.wants_partial():
        if note:
            flash(note, "report")
        return redirect(url_for("reports.progress", campaign_id=campaign.id, job_id=job_id),
                        303)
    # End the session's read transaction: on SQLite its snapshot predates the job row.
    db.session.rollback()
    return show_progress(campaign, db.session.get(Job, job_id), note)


@bp.get("/campaigns/<int:campaign_id>/report-jobs/<int:job_id>")
@access.requires("viewer")
def progress(campaign_id, job_id):
    return show_progress(*report_job(campaign_id, job_id))


@bp.get("/campaigns/<int:campaign_id>/report-jobs/<int:job_id>/file")
@access.requires("viewer")
def prepared_file(campaign_id, job_id):
    """The finished file, as an attachment named as the direct download names it; each
    download is audited for whoever makes it."""
    campaign, job = report_job(campaign_id, job_id)
    found = _prepared_file(job)
    if found is None and job.state == reports.DONE:
        abort(404, f"Prepared report {job.id} is no longer kept: prepared reports are removed "
                   f"after an hour, and one prepared on another machine is not here. Prepare "
                   f"it again from the campaign's page.")
    if found is None:
        abort(404, f"Prepared report {job.id} is not here: it is not finished, or it failed. "
                   f"Its progress page says which; prepare it again from the campaign's page.")
    path, extension, only_errors = found
    exporter = current_plugins().exporters()[extension]
    db.session.add(report_event("report.download", campaign, exporter, only_errors,
                                rows=job.total))
    db.session.commit()
    response = send_file(path, mimetype=exporter.media_type, max_age=0)
    response.headers["Content-Type"] = exporter.media_type
    return as_attachment(response, campaign, exporter, only_errors)
