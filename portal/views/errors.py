"""Error pages in the portal's own style, saying what went wrong and what to do."""

from flask import render_template
from werkzeug.exceptions import HTTPException

ADVICE = {
    400: "Check the address or the form and try again.",
    404: "Go back to the dashboard to find the campaign you want.",
    405: "Use the page's own links and buttons.",
    500: "Something broke on our side. Try again in a minute; if it keeps happening, "
         "tell the portal's operators.",
}


def register(app):
    @app.errorhandler(HTTPException)
    def http_error(error):
        advice = ADVICE.get(error.code, "")
        return render_template("error.html", error=error, advice=advice), error.code
