"""Each hook exercised through an outside plugin registered for one test, the way a plugin
author's code would be called. tests/test_hooks_meta.py checks every hook has a test here."""

import contextlib

from portal import hookimpl
from portal import statuses
from portal.exporters import Exporter
from portal.providers import CallbackRejected
from portal.providers import ErrorInterpretation
from portal.providers import Provider
from portal.providers import ProviderStatus
from portal.providers import ProviderUpdate
from portal.providers import Verdict
from tests.conftest import page
from tests.conftest import sid
from tests.conftest import text


class AcmeSMS:
    """A second provider, with its own words and one error code."""

    PROVIDER = Provider("acme", "Acme SMS", (
        ProviderStatus("pending", statuses.QUEUED, 1, "Acme is holding it.", "Wait."),
        ProviderStatus("ok", statuses.SENT, 2, "Acme handed it over.", "Nothing."),
        ProviderStatus("bounced", statuses.ERROR, 3, "Acme could not deliver it.",
                       "See the error."),
    ))
    BOUNCE = ErrorInterpretation("acme", "B7", "Mailbox full", "The phone's inbox is full.",
                                 "Retry tomorrow.", "temporary", "https://acme.example/B7")

    @hookimpl
    def portal_providers(self):
        return [self.PROVIDER]

    @hookimpl
    def portal_interpret_error(self, provider, code):
        if provider == "acme":
            return self.BOUNCE if code == "B7" else None
        return None

    @hookimpl
    def portal_error_catalogue(self, provider):
        return [self.BOUNCE] if provider == "acme" else None

    @hookimpl
    def portal_exporters(self):
        def write(columns, rows, stream, total_rows):
            stream.write(f"{total_rows} rows\n".encode())
            for row in rows:
                stream.write(("\t".join(row) + "\n").encode())

        return [Exporter("tsv", "Tab-separated", "text/tab-separated-values", "tsv", write)]

    @hookimpl
    def portal_verify_callback(self, provider, url, form, headers, settings):
        if provider != "acme":
            return None
        if headers.get("X-Acme-Key") != settings.get("ACME_KEY"):
            return Verdict(False, "the Acme key is wrong")
        return Verdict(True)

    @hookimpl
    def portal_parse_callback(self, provider, form):
        if provider != "acme":
            return None
        if "id" not in form:
            raise CallbackRejected("Acme callbacks carry an id")
        return ProviderUpdate(form["id"], form["state"], form.get("code") or None)

    @hookimpl
    def portal_fetch_statuses(self, provider, provider_message_ids, settings):
        if provider != "acme":
            return None
        self.asked = list(provider_message_ids)
        return [ProviderUpdate(message_id, "ok") for message_id in provider_message_ids]


@contextlib.contextmanager
def registered(app, plugin, name="acme"):
    manager = app.extensions["portal.plugins"]
    assert manager.register(plugin, name)
    try:
        yield manager
    finally:
        manager.unregister(name)


def test_hook_portal_providers(app, client, make_campaign):
    with registered(app, AcmeSMS()):
        campaign_id = make_campaign("Acme send", [("+6581234567", "ok", None),
                                                  ("+6581234568", "pending", None)],
                                    provider="acme")
        document = page(client.get(f"/campaigns/{campaign_id}"))
        rows = {text(row("td")[1]): text(row("td")[4])
                for row in document.select("tr.provider-row")}
        assert rows == {"ok": "Acme handed it over.", "pending": "Acme is holding it."}
        assert "Acme SMS" in text(document.select_one(".facts"))
        guide = text(page(client.get("/guide")).select_one("#provider-acme"))
        assert "Acme SMS" in guide


def test_hook_portal_interpret_error(app, client, make_campaign):
    with registered(app, AcmeSMS()):
        campaign_id = make_campaign("Acme send", [("+6581234567", "bounced", "B7"),
                                                  ("+6581234568", "bounced", "Z1")],
                                    provider="acme")
        document = page(client.get(f"/campaigns/{campaign_id}"))
        known = document.select_one("tr.error-row[data-code=B7]")
        assert "Mailbox full" in text(known) and "Retry tomorrow." in text(known)
        assert known.find("a", string="Provider's page")["href"] == "https://acme.example/B7"
        # The plugin does not know Z1: the core's own interpretation says so.
        unknown = document.select_one("tr.error-row[data-code=Z1]")
        assert "Unknown error Z1" in text(unknown)


def test_hook_portal_error_catalogue(app, client):
    with registered(app, AcmeSMS()):
        row = page(client.get("/guide")).select_one("#acme-B7")
        assert "Mailbox full" in text(row) and "Temporary" in text(row)


def test_hook_portal_exporters(app, client, make_campaign):
    with registered(app, AcmeSMS()):
        campaign_id = make_campaign("Acme send", [("+6581234567", "ok", None)], provider="acme")
        buttons = [a["href"] for a in page(client.get(f"/campaigns/{campaign_id}"))
                   .select(".downloads a.button")]
        assert f"/campaigns/{campaign_id}/report.tsv" in buttons
        body = client.get(f"/campaigns/{campaign_id}/report.tsv").get_data(as_text=True)
        assert body.splitlines()[0] == "1 rows"
        assert body.splitlines()[1].startswith("+6581234567\tSENT\tok\t")
    assert client.get(f"/campaigns/{campaign_id}/report.tsv").status_code == 404


def test_a_builtin_wins_a_clash_of_extensions(app, client, make_campaign):
    class FakeCsv:
        @hookimpl
        def portal_exporters(self):
            return [Exporter("fake", "Fake", "text/plain", "csv", None)]

    with registered(app, FakeCsv(), name="fake") as manager:
        assert manager.exporters()["csv"].format_id == "csv"


def test_hook_portal_verify_callback(app, client, make_campaign):
    app.config["ACME_KEY"] = "secret"
    with registered(app, AcmeSMS()):
        campaign_id = make_campaign("Acme send", [("+6581234567", "pending", None)],
                                    provider="acme")
        refused = client.post("/callbacks/acme", data={"id": sid(campaign_id, 0), "state": "ok"},
                              headers={"X-Acme-Key": "guess"})
        assert refused.status_code == 403 and refused.json["reason"] == "the Acme key is wrong"
        accepted = client.post("/callbacks/acme", data={"id": sid(campaign_id, 0), "state": "ok"},
                               headers={"X-Acme-Key": "secret"})
        assert accepted.status_code == 200 and accepted.json["outcome"] == "applied"


def test_hook_portal_parse_callback(app, client, make_campaign):
    app.config["ACME_KEY"] = "secret"
    with registered(app, AcmeSMS()):
        campaign_id = make_campaign("Acme send", [("+6581234567", "pending", None)],
                                    provider="acme")
        key = {"X-Acme-Key": "secret"}
        malformed = client.post("/callbacks/acme", data={"state": "ok"}, headers=key)
        assert malformed.status_code == 400
        assert malformed.json["reason"] == "Acme callbacks carry an id"
        client.post("/callbacks/acme", data={"id": sid(campaign_id, 0), "state": "bounced",
                                             "code": "B7"}, headers=key)
        row = page(client.get(f"/campaigns/{campaign_id}")).select_one("tr.error-row")
        assert row["data-code"] == "B7" and "Mailbox full" in text(row)


def test_hook_portal_fetch_statuses(app, make_campaign):
    plugin = AcmeSMS()
    with registered(app, plugin) as manager:
        updates = manager.fetch_statuses("acme", ["A1", "A2"], app.config)
        assert updates == [ProviderUpdate("A1", "ok"), ProviderUpdate("A2", "ok")]
        assert plugin.asked == ["A1", "A2"]
        assert manager.fetch_statuses("nobody", ["A1"], app.config) is None
