"""The SMS campaign portal: campaign statistics and delivery reports."""

from portal.app import create_app
from portal.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]
