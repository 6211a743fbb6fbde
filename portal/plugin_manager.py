"""Loads plugins, keeps the ones that fail out of the way, and wraps each hook in a typed
method so the rest of the core never calls pluggy directly."""

import importlib
import importlib.metadata
import logging
from dataclasses import dataclass

import pluggy
from flask import current_app

from portal import hookspecs
from portal import providers as provider_records

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "portal.plugins"

# The portal's own behaviour, registered through the same hooks as an outside plugin.
BUILTIN_PLUGINS = ("plugins.twilio", "plugins.csv_report", "plugins.xlsx_report")


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple
    builtin: bool


@dataclass(frozen=True)
class PluginFailure:
    name: str
    reason: str


class PluginManager:
    def __init__(self, load_installed=True):
        self._pm = pluggy.PluginManager("portal")
        self._pm.add_hookspecs(hookspecs)
        self._versions = {}
        self._builtin = set()
        self.failures = []
        self._interpretations = {}
        self._providers = None
        if load_installed:
            self._load_entry_points()
        for module_name in BUILTIN_PLUGINS:
            self._load(module_name, lambda name=module_name: importlib.import_module(name),
                       version=_own_version(), builtin=True)

    # Loading

    def _load_entry_points(self):
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = entry_point.dist
            version = dist.version if dist else "unknown"
            self._load(entry_point.name, entry_point.load, version=version, builtin=False)

    def _load(self, name, importer, version, builtin):
        try:
            plugin = importer()
        except Exception as error:  # a broken plugin must not stop the portal
            self._fail(name, f"could not be imported: {type(error).__name__}: {error}")
            return
        self.register(plugin, name, version=version, builtin=builtin)

    def register(self, plugin, name, version="unknown", builtin=False):
        """Register ``plugin`` after validating it; a plugin that fails is recorded and
        skipped. Returns True when the plugin was registered."""
        try:
            self._pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as error:
            self._fail(name, f"was rejected: {error}")
            return False
        unknown = [caller.name for caller in self._pm.get_hookcallers(plugin)
                   if not caller.has_spec()]
        if unknown:
            self._pm.unregister(plugin)
            hooks = ", ".join(sorted(unknown))
            self._fail(name, f"implements hooks the portal does not define: {hooks} "
                             f"(misspelt? see docs/plugins.md for the hook names)")
            return False
        self._versions[name] = version
        if builtin:
            self._builtin.add(name)
        self._plugins_changed()
        return True

    def unregister(self, name):
        self._pm.unregister(name=name)
        self._versions.pop(name, None)
        self._plugins_changed()

    def _plugins_changed(self):
        self._interpretations.clear()
        self._providers = None

    def _fail(self, name, reason):
        log.error("plugin %s %s; the portal starts without it", name, reason,
                  extra={"plugin": name})
        self.failures.append(PluginFailure(name, reason))

    def plugins(self):
        infos = []
        for name, plugin in self._pm.list_name_plugin():
            hooks = tuple(sorted(caller.name for caller in self._pm.get_hookcallers(plugin)))
            infos.append(PluginInfo(name, self._versions.get(name, "unknown"), hooks,
                                    name in self._builtin))
        return sorted(infos, key=lambda info: (info.builtin, info.name))

    # Typed hook wrappers

    def _builtin_first(self, hook_name):
        """Each plugin's answer to a hook without arguments, the built-ins' first, so a
        built-in wins a clash of names whenever the other plugin was registered."""
        impls = getattr(self._pm.hook, hook_name).get_hookimpls()
        impls = sorted(impls, key=lambda impl: impl.plugin_name not in self._builtin)
        return [impl.function() for impl in impls]

    def providers(self):
        """Every provider by name (asked of the plugins once, until plugins change)."""
        if self._providers is None:
            self._providers = self._collect_providers()
        return self._providers

    def _collect_providers(self):
        found = {}
        for provider_list in self._builtin_first("portal_providers"):
            for provider in provider_list or ():
                found.setdefault(provider.name, provider)
        return found

    def interpret_error(self, provider, code):
        """The interpretation of ``code``; never None, so no code is ever dropped."""
        key = (provider, code)
        cached = self._interpretations.get(key)
        if cached is None:
            if code == provider_records.INVALID_NUMBER.code:
                cached = provider_records.INVALID_NUMBER
            else:
                cached = (self._pm.hook.portal_interpret_error(provider=provider, code=code)
                          or provider_records.unknown_error(provider, code))
            self._interpretations[key] = cached
        return cached

    def verify_callback(self, provider, url, form, headers, settings):
        return self._pm.hook.portal_verify_callback(provider=provider, url=url, form=form,
                                                    headers=headers, settings=settings)

    def parse_callback(self, provider, form):
        return self._pm.hook.portal_parse_callback(provider=provider, form=form)

    def fetch_statuses(self, provider, provider_message_ids, settings):
        return self._pm.hook.portal_fetch_statuses(
            provider=provider, provider_message_ids=provider_message_ids, settings=settings)

    def error_catalogue(self, provider):
        return self._pm.hook.portal_error_catalogue(provider=provider) or []

    def exporters(self):
        """Every report format by file extension, ordered by label. A second plugin that
        claims an extension already taken is logged and its format skipped."""
        found = {}
        for plugin_exporters in self._builtin_first("portal_exporters"):
            for exporter in plugin_exporters or ():
                if exporter.extension in found:
                    log.warning("two exporters claim the extension %s; keeping %s",
                                exporter.extension, found[exporter.extension].format_id)
                    continue
                found[exporter.extension] = exporter
        return dict(sorted(found.items(), key=lambda item: item[1].label.lower()))


def current_plugins():
    """The PluginManager of the running app."""
    return current_app.extensions["portal.plugins"]


def _own_version():
    try:
        return importlib.metadata.version("sms-campaign-portal")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
