"""Asking a provider for the statuses of messages whose callbacks never came, and applying
the answers the way callbacks are applied: each one a status event (source ``sync``),
recorded and applied in the same transaction, one transaction per chunk of messages.

Candidates are messages still in flight (QUEUED or SENDING) that have a provider id and
have not changed for a while. They are read in pages (by status, then id), so a campaign of
a million messages never sits in memory, and no transaction stays open while the provider
is asked.
"""

import logging
import time
from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from portal import background
from portal import statuses
from portal.background import DONE
from portal.background import FAILED
from portal.db import db
from portal.db import retrying
from portal.db import utcnow
from portal.db import write_transaction
from portal.ingestion import events
from portal.models import Campaign
from portal.models import Job
from portal.models import Message
from portal.models import unsent
from portal.plugin_manager import current_plugins
from portal.providers import ProviderUnavailable

log = logging.getLogger(__name__)

messages = Message.__table__
campaigns = Campaign.__table__
jobs = Job.__table__

SOURCE = "sync"
KIND = "sync"

PAGE = 1000  # message ids read from the database at a time
CHUNK = 100  # ids asked about at a time, and applied in one transaction
ATTEMPTS = 3
FIRST_DELAY = 0.5  # seconds before the second attempt; doubles before each next one


@dataclass
class Tally:
    """What a sync found: ``unknown`` messages the provider does not know, ``skipped``
    answers with a status the provider plugin does not know."""

    asked: int = 0
    updated: int = 0
    unchanged: int = 0
    unknown: int = 0
    skipped: int = 0

    def add(self, other):
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class SyncFailed(Exception):
    """The sync could not finish; ``reason`` says why, for the person who started it, and
    ``tally`` what was applied before it stopped (it stays applied)."""

    def __init__(self, reason, tally=None):
        super().__init__(reason)
        self.reason = reason
        self.tally = tally or Tally()


@dataclass(frozen=True)
class Work:
    """A campaign with messages to ask about."""

    campaign_id: int
    name: str
    provider: str
    candidates: int


# Finding the candidates

def threshold(hours, now=None):
    """The moment before which an in-flight message counts as waiting too long."""
    return (now or utcnow()) - timedelta(hours=hours)


def _waiting(before):
    return (messages.c.status.in_(statuses.IN_FLIGHT), messages.c.updated_at < before,
            messages.c.provider_message_id.is_not(None))


def count_candidates(connection, campaign_id, before):
    return connection.execute(
        sa.select(sa.func.count()).select_from(messages)
        .where(messages.c.campaign_id == campaign_id, *_waiting(before))).scalar_one()


def campaigns_to_sync(connection, before, campaign_id=None):
    """Every campaign (or only ``campaign_id``) with messages to ask about, by id."""
    query = (
        sa.select(campaigns.c.id, campaigns.c.name, campaigns.c.provider, sa.func.count())
        .join(messages, messages.c.campaign_id == campaigns.c.id)
        .where(*_waiting(before))
        .group_by(campaigns.c.id, campaigns.c.name, campaigns.c.provider)
        .order_by(campaigns.c.id)
    )
    if campaign_id is not None:
        query = query.where(campaigns.c.id == campaign_id)
    return [Work(*row) for row in connection.execute(query)]


def candidate_pages(engine, campaign_id, before, page=PAGE):
    """Yield the provider ids of the candidates, ``page`` at a time, by status then id.
    Paging within one status keeps to the index of unsent messages by (campaign, status,
    id), so the final messages of a big campaign are never read. Each page is its own short
    transaction."""
    for status in statuses.IN_FLIGHT:
        after = 0
        while True:
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.select(messages.c.id, messages.c.provider_message_id)
                    .where(messages.c.campaign_id == campaign_id,
                           messages.c.status == status, unsent(messages.c.status),
                           messages.c.id > after, *_waiting(before))
                    .order_by(messages.c.id)
                    .limit(page)).all()
            if rows:
                yield [row.provider_message_id for row in rows]
            if len(rows) < page:
                break
            after = rows[-1].id


def chunked(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Asking the provider

def campaign_provider(campaign_id):
    """The provider name of a campaign, or None when there is no such campaign. Read in a
    short transaction of its own: a sync must not hold one open for its whole run."""
    with db.engine.connect() as connection:
        return connection.execute(
            sa.select(campaigns.c.provider).where(campaigns.c.id == campaign_id)).scalar()


def provider_for(name):
    provider = current_plugins().providers().get(name)
    if provider is None:
        raise SyncFailed(f"No plugin describes the provider {name!r}, so the portal cannot "
                         f"ask it for statuses; the plugins page says why.")
    return provider


def provider_label(name):
    provider = current_plugins().providers().get(name)
    return provider.label if provider else name


def _ask_once(provider, ids):
    answer = current_plugins().fetch_statuses(provider.name, list(ids), current_app.config)
    if answer is None:
        raise SyncFailed(f"No plugin can ask {provider.label} for statuses; the plugins "
                         f"page lists what each plugin does.")
    return list(answer)


def ask(provider, ids, sleep=time.sleep, attempts=ATTEMPTS):
    """The provider's updates for ``ids``. Asks again after a pause when the provider says
    that may help; raises SyncFailed when it does not, or after the last attempt."""
    delay = FIRST_DELAY
    for attempt in range(1, attempts + 1):
        try:
            return _ask_once(provider, ids)
        except ProviderUnavailable as error:
            if not error.retry:
                raise SyncFailed(_sentence(str(error))) from None
            if attempt == attempts:
                raise SyncFailed(f"{provider.label} kept failing after {attempts} tries "
                                 f"({error}). Try again in a few minutes.") from None
            log.warning("asking %s failed (attempt %d of %d), retrying in %gs: %s",
                        provider.name, attempt, attempts, delay, error,
                        extra={"provider": provider.name})
        except SyncFailed:
            raise
        except Exception as error:  # a plugin bug or a network error the plugin let through
            log.exception("asking %s for statuses failed unexpectedly", provider.name,
                          extra={"provider": provider.name})
            raise SyncFailed(f"Asking {provider.label} failed unexpectedly "
                             f"({type(error).__name__}); the portal's log has the "
                             f"details.") from None
        sleep(delay)
        delay *= 2


def _sentence(text):
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# Applying the answers

def _received(provider, update, at):
    params = {"via": "sync", "status": update.provider_status,
              "error_code": update.error_code}
    return events.Received(provider.name, SOURCE, params, at)


def apply_answers(provider, ids, updates):
    """Record and apply the provider's answers about ``ids`` in one transaction."""
    asked = set(ids)
    answers = {update.provider_message_id: update for update in updates
               if update.provider_message_id in asked}
    at = utcnow()

    def apply():
        tally = Tally(asked=len(asked), unknown=len(asked - set(answers)))
        strange = set()
        with write_transaction(db.engine) as connection:
            for update in answers.values():
                received = _received(provider, update, at)
                if provider.status(update.provider_status) is None:
                    # Cut to the column's width: the word is unknown, so its length is too.
                    update = replace(update, provider_status=str(update.provider_status)[:24])
                    events.record(connection, received, update, outcome=events.REJECTED,
                                  reason=f"{provider.label} answered with a status the "
                                         f"portal does not know: {update.provider_status!r}")
                    strange.add(str(update.provider_status))
                    tally.skipped += 1
                elif events.receive(connection, provider, received, update) == events.APPLIED:
                    tally.updated += 1
                else:
                    tally.unchanged += 1
        return tally, strange

    tally, strange = retrying(apply)
    if strange:
        log.warning("%s answered with unknown statuses %s; left those messages as they were",
                    provider.name, ", ".join(sorted(strange)), extra={"provider": provider.name})
    return tally


def sync_campaign(campaign_id, before, progress=None, sleep=time.sleep, page=PAGE,
                  chunk=CHUNK):
    """Ask the campaign's provider about every candidate and apply the answers. Calls
    ``progress(chunk_tally, tally)`` after each chunk. Returns the Tally; raises
    SyncFailed (with what was applied so far) when the provider cannot be asked."""
    tally = Tally()
    provider_name = campaign_provider(campaign_id)
    try:
        provider = provider_for(provider_name)
        for ids in candidate_pages(db.engine, campaign_id, before, page):
            for part in chunked(ids, chunk):
                done = apply_answers(provider, part, ask(provider, part, sleep))
                tally.add(done)
                if progress is not None:
                    progress(done, tally)
    except SyncFailed as error:
        error.tally = tally
        log.warning("sync stopped campaign=%s provider=%s %s reason=%s", campaign_id,
                    provider_name, _counts(tally), error.reason,
                    extra={"campaign_id": campaign_id, "provider": provider_name})
        raise
    log.info("sync campaign=%s provider=%s %s", campaign_id, provider_name, _counts(tally),
             extra={"campaign_id": campaign_id, "provider": provider_name})
    return tally


def _counts(tally):
    return " ".join(f"{field.name}={getattr(tally, field.name)}" for field in fields(tally))


# What to tell people

def number(count, word):
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def describe(tally, label):
    text = (f"Asked {label} about {number(tally.asked, 'message')}: {tally.updated:,} got "
            f"a new status, {tally.unchanged:,} unchanged, {tally.unknown:,} unknown to "
            f"{label}.")
    if tally.skipped:
        text += (f" {tally.skipped:,} came back with a status the portal does not know and "
                 f"were left as they were.")
    return text


def nothing_to_ask(label, hours):
    return (f"No message has been waiting for a status for more than {hours:g} hours, so "
            f"there was nothing to ask {label}.")


def failure_text(error, label):
    if not error.tally.asked:
        return f"{error.reason} Nothing was changed."
    return f"{error.reason} Before it stopped: {describe(error.tally, label)} Those are kept."


STOPPED = ("The portal process running it ended (a restart or a crash) before it finished. "
           "What it had already fetched is kept; start the sync again.")


def progress_text(label, done, total):
    return f"Asked {label} about {done:,} of {number(total, 'message')}"


# Jobs: a sync started from a page, with its progress in the database

@dataclass(frozen=True)
class JobStart:
    job_id: int
    started: bool
    before: object


def start_job(campaign_id, hours):
    """Create a running sync job for the campaign, unless one is running already; returns
    which job to show and whether it is new."""
    before = threshold(hours)
    label = provider_label(campaign_provider(campaign_id))
    with write_transaction(db.engine) as connection:
        running = background.running_job(connection, KIND, campaign_id, STOPPED)
        if running is not None:
            return JobStart(running, False, before)
        total = count_candidates(connection, campaign_id, before)
        job_id = background.new_job(
            connection, KIND, campaign_id, total,
            f"Getting ready to ask {label} about {number(total, 'message')}")
    return JobStart(job_id, True, before)


def run_job(job_id, campaign_id, before, hours, sleep=time.sleep):
    """Run a job made by start_job to its end, keeping its row up to date. Never raises:
    whatever happens ends in the job's state and message, unless the job was taken for
    stopped meanwhile (background.Superseded): then it ends leaving the row as it is."""
    try:
        _run_job(job_id, campaign_id, before, hours, sleep)
    except background.Superseded:
        log.warning("sync job %s of campaign %s was taken for stopped; it ended", job_id,
                    campaign_id, extra={"campaign_id": campaign_id})


def _run_job(job_id, campaign_id, before, hours, sleep):
    with db.engine.connect() as connection:
        total = connection.execute(
            sa.select(jobs.c.total).where(jobs.c.id == job_id)).scalar_one()
    label = provider_label(campaign_provider(campaign_id))

    def update(**values):
        background.update_job(db.engine, job_id, **values)

    def progress(_chunk, tally):
        update(done=tally.asked, message=progress_text(label, tally.asked, total))

    try:
        tally = sync_campaign(campaign_id, before, progress=progress, sleep=sleep)
    except SyncFailed as error:
        update(state=FAILED, done=error.tally.asked, finished_at=utcnow(),
               message=failure_text(error, label))
        return
    except background.Superseded:
        raise
    except Exception:
        log.exception("sync job %s of campaign %s stopped unexpectedly", job_id, campaign_id,
                      extra={"campaign_id": campaign_id})
        update(state=FAILED, finished_at=utcnow(),
               message="The sync stopped because of an unexpected problem. What it had "
                       "already fetched is kept; the portal's log has the details.")
        return
    summary = describe(tally, label) if tally.asked else nothing_to_ask(label, hours)
    # Messages can leave the queue while the sync runs, so fewer may be asked than counted.
    update(state=DONE, done=max(total, tally.asked), total=max(total, tally.asked),
           finished_at=utcnow(), message=summary)
