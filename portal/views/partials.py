"""One decision for every page built from partials: an HTMX request gets the partial it
asked for, anything else (a link opened directly, a history restore) gets the page."""

from flask import make_response
from flask import render_template
from htmx_flask import request


def wants_partial():
    return bool(request.htmx) and not request.htmx.history_restore_request


def render(page_template, partial_template, **context):
    template = partial_template if wants_partial() else page_template
    response = make_response(render_template(template, **context))
    # The same URL answers two ways; caches must keep them apart.
    response.vary.add("HX-Request")
    return response
