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


@hookspec(firstresult=True)
def portal_verify_callback(provider, url, form, headers, settings):
    """Decide whether a status callback really comes from ``provider``.

    ``url`` is the public URL the provider called (scheme, host, path and query, as the
    provider saw it, not as a proxy rewrote it), ``form`` the posted parameters as a dict of
    strings, ``headers`` the request headers, ``settings`` the portal's configuration (a
    mapping; credentials are read from it). Return a ``portal.providers.Verdict``, or None
    if this plugin does not speak for that provider. Called before anything is applied.
    """


@hookspec(firstresult=True)
def portal_parse_callback(provider, form):
    """Read a verified status callback of ``provider``.

    Return a ``portal.providers.ProviderUpdate`` (message id, provider status, error code),
    or None if this plugin does not speak for that provider. Raise
    ``portal.providers.CallbackRejected`` with a plain reason for a malformed callback (no
    message id, a status the provider does not have).
    """


@hookspec(firstresult=True)
def portal_fetch_statuses(provider, provider_message_ids, settings):
    """Ask ``provider``'s API for the current status of some of its messages.

    ``provider_message_ids`` is a list of the provider's ids; ``settings`` the portal's
    configuration. Return an iterable of ``ProviderUpdate`` (one per message the provider
    knows), or None if this plugin does not speak for that provider. Raise
    ``portal.providers.ProviderUnavailable`` when the API fails, saying whether a retry may
    help; never report an API error as a message status.
    """
