"""Importing a campaign from a CSV file: the form, and what happens when it is sent. A file
that cannot be imported brings the form back with what was wrong and where, and nothing of
it is stored; an import that worked leads to the campaign's page with a summary."""

import logging
import time

import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from portal import access
from portal import uploads
from portal.db import db
from portal.db import utcnow
from portal.models import Team
from portal.plugin_manager import current_plugins

bp = Blueprint("uploads", __name__)
log = logging.getLogger(__name__)

# The whole request, file included; a config value of the same name overrides it.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
FIELDS = ("name", "provider", "team", "sent_at")


def upload_limit():
    return current_app.config.get("PORTAL_MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES)


def limit_mb():
    return f"{upload_limit() / 2**20:.3g}"


def allowed_teams():
    """An admin imports for any team; a manager for their own."""
    query = sa.select(Team).order_by(Team.name)
    if not current_user.is_admin:
        query = query.where(Team.id == current_user.team_id)
    return db.session.execute(query).scalars().all()


def render_form(values, problems=(), status=200):
    teams = allowed_teams()
    page = render_template("upload.html", values=values, problems=problems, teams=teams,
                           providers=current_plugins().providers(), columns=uploads.COLUMNS,
                           limit_mb=limit_mb())
    return page, status


@bp.get("/campaigns/new")
@access.requires("manager")
def new():
    return render_form({})


@bp.post("/campaigns/new")
@access.requires("manager")
def create():
    request.max_content_length = upload_limit()
    try:
        values = {name: request.form.get(name, "").strip() for name in FIELDS}
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        log.info("campaign import refused problem=too_large bytes=%s", request.content_length)
        return render_form({}, [f"The file is over {limit_mb()} MB, the most the "
                                f"portal takes at once. Split it into smaller files and import "
                                f"each as its own campaign."], 413)
    campaign, problems = read_form(values, upload)
    if problems:
        return render_form(values, problems, 400)
    started = time.perf_counter()
    try:
        summary = uploads.store(db.engine, campaign, upload.stream,
                                current_app.config["PORTAL_DEFAULT_REGION"], utcnow())
    except uploads.BadFile as error:
        log.info("campaign import refused problem=%s line=%s column=%s", error.problem,
                 error.line, error.column)
        return render_form(values, [f"Nothing was imported. {_capital(error.message)}"], 400)
    except sa.exc.IntegrityError:
        log.warning("campaign import refused problem=conflict", exc_info=True)
        return render_form(values, ["Nothing was imported: another system registered some of "
                                    "these messages at the same moment. Import the file "
                                    "again."], 409)
    _log_import(summary, time.perf_counter() - started)
    flash(summary_text(summary), "import")
    return redirect(url_for("campaigns.show", campaign_id=summary.campaign_id), 303)


def read_form(values, upload):
    """(uploads.NewCampaign, []) when the form is complete, else (None, its problems)."""
    problems = []
    if not 1 <= len(values["name"]) <= 200:
        problems.append("Give the campaign a name (at most 200 characters).")
    provider = current_plugins().providers().get(values["provider"])
    if provider is None:
        problems.append("Choose the provider that sent the messages.")
    team = _team(values["team"])
    if team is None:
        problems.append("Choose the team the campaign belongs to.")
    sent_at = None
    if values["sent_at"]:
        sent_at = uploads.parse_date(values["sent_at"])
        if sent_at is None:
            problems.append("The sent date is not a date the portal can read; write it like "
                            "2026-12-01 08:00, or leave it empty.")
    if upload is None or not upload.filename:
        problems.append("Choose the CSV file to import.")
    if problems:
        return None, problems
    return uploads.NewCampaign(values["name"], provider, team.id, sent_at), []


def _team(value):
    team_id = access.parse_id(value)
    return next((team for team in allowed_teams() if team.id == team_id), None)


def _capital(text):
    return text[:1].upper() + text[1:]


def _lines(numbers, count):
    listed = ", ".join(f"{number:,}" for number in numbers)
    more = f" and {count - len(numbers):,} more" if count > len(numbers) else ""
    return f"line{'s' if count > 1 else ''} {listed}{more}"


def summary_text(summary):
    """What the import did, in one paragraph for the campaign page."""
    parts = [f"Imported {summary.stored:,} message{'' if summary.stored == 1 else 's'}."]
    if summary.invalid:
        parts.append(f"{summary.invalid:,} of them have a phone number that no one can use; "
                     f"they count as ERROR ({_lines(summary.invalid_lines, summary.invalid)}).")
    if summary.duplicates:
        parts.append(f"Skipped {summary.duplicates:,} duplicate"
                     f"{'' if summary.duplicates == 1 else 's'}, already in the file or in "
                     f"the portal ({_lines(summary.duplicate_lines, summary.duplicates)}).")
    if summary.inbound_skipped:
        parts.append(f"Skipped {summary.inbound_skipped:,} inbound message"
                     f"{'' if summary.inbound_skipped == 1 else 's'} (replies from "
                     f"recipients are not part of a campaign).")
    return " ".join(parts)


def _log_import(summary, seconds):
    log.info("campaign imported campaign=%s rows=%s stored=%s invalid=%s duplicates=%s "
             "inbound_skipped=%s early_callbacks=%s seconds=%.1f", summary.campaign_id,
             summary.rows, summary.stored, summary.invalid, summary.duplicates,
             summary.inbound_skipped, summary.early_callbacks, seconds,
             extra={"campaign": summary.campaign_id})
