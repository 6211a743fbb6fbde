"""The hooks a plugin may implement. Each is documented for plugin authors in
docs/plugins.md; tests/test_hooks_meta.py fails if a hook here lacks a heading there or a
test in tests/test_hooks.py.

A plugin is any module or object with functions decorated by ``portal.hookimpl`` and named
after these specifications.
"""

import pluggy

hookspec = pluggy.HookspecMarker("portal")
hookimpl = pluggy.HookimplMarker("portal")


@hookspec
def portal_providers():
    """Describe the SMS providers this plugin knows.

    Called once at start-up. Return a list of ``portal.providers.Provider``: the provider's
    name (as stored on a campaign, e.g. ``"twilio"``), its label, and every status word it
    uses, each a ``ProviderStatus`` with the portal status it maps to, its rank in the
    precedence (higher wins; ranks are distinct within a provider) and what the status
    means and asks of the user.
    """


@hookspec(firstresult=True)
def portal_interpret_error(provider, code):
    """Explain one error code of ``provider`` (both ``str``).

    Return a ``portal.providers.ErrorInterpretation`` (title, meaning, action, kind, link),
    or None if this plugin does not speak for that provider. A provider plugin should
    answer for codes it does not know too, with ``known=False`` and a link to the
    provider's page for the code. The first non-None answer is used; when no plugin
    answers, the core's own "unknown error" interpretation is shown.
    """


@hookspec(firstresult=True)
def portal_error_catalogue(provider):
    """List every error code ``provider`` is known to report, for the status guide.

    Return a list of ``ErrorInterpretation`` in the order the guide should show them, or
    None if this plugin does not speak for that provider.
    """


@hookspec
def portal_exporters():
    """Supply delivery-report formats.

    Called once at start-up. Return a list of ``portal.exporters.Exporter``: a format id,
    a label for the download button, a media type, a file extension (unique among all
    exporters: it is the last part of the report URL) and a ``write`` function that
    streams the report to a binary stream.
    """
