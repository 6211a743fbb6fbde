"""The floor for the callback benchmark: the least a callback endpoint can do. It checks the
Twilio signature and updates one row, on the same SQLite settings as the portal (WAL,
synchronous=NORMAL), served by gunicorn with the same number of workers.

    gunicorn 'bench.floor_app:create()'   (with FLOOR_DATABASE and FLOOR_AUTH_TOKEN set)
"""

import os
import sqlite3
import threading

from flask import Flask
from flask import request
from twilio.request_validator import RequestValidator


def create():
    app = Flask(__name__)
    database = os.environ["FLOOR_DATABASE"]
    validator = RequestValidator(os.environ["FLOOR_AUTH_TOKEN"])
    local = threading.local()

    def connection():
        if not hasattr(local, "connection"):
            local.connection = sqlite3.connect(database, isolation_level=None, timeout=10)
            local.connection.execute("PRAGMA journal_mode=WAL")
            local.connection.execute("PRAGMA synchronous=NORMAL")
        return local.connection

    @app.post("/callbacks/twilio")
    def callback():
        form = request.form.to_dict()
        if not validator.validate(request.url, form, request.headers.get("X-Twilio-Signature")):
            return "forged", 403
        connection().execute(
            "UPDATE messages SET provider_status = ?, error_code = ? WHERE provider_message_id = ?",
            (form["MessageStatus"], form.get("ErrorCode"), form["MessageSid"]))
        return "", 200

    return app
