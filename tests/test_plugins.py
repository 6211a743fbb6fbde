"""Plugins: built-ins and the example load through the same hooks; broken plugins are
named on the plugins page and skipped while the portal keeps running."""

import importlib.metadata
import textwrap

import pytest

from portal.plugin_manager import PluginManager
from tests.conftest import add_user
from tests.conftest import page
from tests.conftest import signed_in
from tests.conftest import text


def plugin_rows(document):
    """{plugin: [version, origin, [hooks]]}"""
    return {row["data-plugin"]: [text(row("td")[0]), text(row("td")[1]),
                                 [text(code) for code in row("td")[2]("code")]]
            for row in document.select("table.plugins tr[data-plugin]")}


def test_plugins_page_lists_each_plugin_with_version_and_hooks(client):
    rows = plugin_rows(page(client.get("/plugins")))
    assert rows["plugins.twilio"][1] == "built in"
    assert rows["plugins.twilio"][2] == [
        "portal_error_catalogue", "portal_fetch_statuses", "portal_interpret_error",
        "portal_parse_callback", "portal_providers", "portal_verify_callback"]
    assert rows["plugins.csv_report"][2] == ["portal_exporters"]
    assert rows["plugins.xlsx_report"][2] == ["portal_exporters"]
    assert rows["jsonl_report"] == ["1.0.0", "installed", ["portal_exporters"]]


def test_example_plugin_loads_through_its_entry_point():
    entry_points = importlib.metadata.entry_points(group="portal.plugins")
    example = [entry_point for entry_point in entry_points if entry_point.name == "jsonl_report"]
    assert example and example[0].dist.name == "portal-jsonl-report"
    manager = PluginManager()
    assert "jsonl" in manager.exporters()
    assert any(info.name == "jsonl_report" and not info.builtin for info in manager.plugins())


def install_fake_distribution(root, name, module_source):
    """A distribution on sys.path with one entry point, found the way pip-installed ones are."""
    module = f"{name}_plugin"
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    dist_info = root / f"{name}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[portal.plugins]\n{name} = {module}\n")


BROKEN = {
    "import_fails": ("import a_module_that_is_not_there\n", "could not be imported: "
                     "ModuleNotFoundError"),
    "misspelt_hook": ("""
        from portal import hookimpl

        @hookimpl
        def portal_exporter():
            return []
        """, "implements hooks the portal does not define: portal_exporter"),
    "wrong_argument": ("""
        from portal import hookimpl

        @hookimpl
        def portal_interpret_error(provider, code, language):
            return None
        """, "was rejected"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_plugin_is_shown_and_skipped(name, tmp_path, monkeypatch, caplog,
                                              make_app, password_hash):
    source, reason = BROKEN[name]
    install_fake_distribution(tmp_path, name, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()

    app = make_app()
    failures = app.extensions["portal.plugins"].failures
    assert [failure.name for failure in failures] == [name]
    assert reason in failures[0].reason
    assert name in caplog.text and "the portal starts without it" in caplog.text

    client = signed_in(app, add_user(app, password_hash, "admin@example.gov", "admin"))
    document = page(client.get("/plugins"))
    assert name in text(document.select_one(".failures"))
    assert name not in plugin_rows(document)
    # The built-ins still work.
    assert "csv" in app.extensions["portal.plugins"].exporters()
