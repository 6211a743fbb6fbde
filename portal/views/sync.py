"""Asking the provider for missing statuses from a campaign's page: the sync runs in a
thread of the web process and writes its progress to a Job row, which the page polls."""

import sqlalchemy as sa
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import url_for

from portal import access
from portal import background
from portal.access import visible_campaign as get_campaign
from portal.db import db
from portal.ingestion import sync
from portal.models import Job
from portal.views import partials

bp = Blueprint("sync", __name__)


def latest_sync(campaign_id):
    """The campaign's most recent sync job, or None."""
    return db.session.execute(
        sa.select(Job).where(Job.kind == sync.KIND, Job.campaign_id == campaign_id)
        .order_by(Job.id.desc()).limit(1)).scalar()


@bp.app_context_processor
def sync_helpers():
    return {"latest_sync": latest_sync, "sync_stopped_message": sync.STOPPED,
            "sync_after_hours": current_app.config["PORTAL_SYNC_AFTER_HOURS"]}


def launch(job_start, campaign_id, hours):
    """Run the sync job in the background (see portal.background)."""
    background.start(f"portal-sync-{job_start.job_id}", sync.run_job, job_start.job_id,
                     campaign_id, job_start.before, hours)


@bp.post("/campaigns/<int:campaign_id>/sync")
@access.requires("manager")
def start(campaign_id):
    """Start a sync of the campaign, or show the one already running."""
    campaign = get_campaign(campaign_id)
    hours = current_app.config["PORTAL_SYNC_AFTER_HOURS"]
    job_start = sync.start_job(campaign.id, hours)
    if job_start.started:
        launch(job_start, campaign.id, hours)
    if not partials.wants_partial():
        return redirect(url_for("campaigns.show", campaign_id=campaign.id, _anchor="sync"), 303)
    # End the session's read transaction: on SQLite its snapshot predates the job row.
    db.session.rollback()
    job = db.session.get(Job, job_start.job_id)
    response = current_app.make_response(
        render_template("partials/sync_progress.html", campaign=campaign, job=job))
    response.vary.add("HX-Request")
    return response


@bp.get("/campaigns/<int:campaign_id>/sync/<int:job_id>")
@access.requires("viewer")
def progress(campaign_id, job_id):
    """How far the sync has come: the partial the page polls, or opened directly, a page."""
    campaign = get_campaign(campaign_id)
    job = access.get_by_id(Job, job_id)
    if job is None or job.kind != sync.KIND or job.campaign_id != campaign.id:
        abort(404, f"Campaign {campaign.id} has no status sync {job_id}. The campaign's page "
                   f"shows its latest one.")
    return partials.render("sync.html", "partials/sync_progress.html", campaign=campaign,
                           job=job)
