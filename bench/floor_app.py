"""The floor for the callback benchmark: the least a callback endpoint can do. It checks the
Twilio signature and updates one row, served by gunicorn with the same settings and number
of workers as the portal, on the same kind of database: SQLite with the portal's settings
(WAL, synchronous=NORMAL, a checkpoint every 10,000 pages), or PostgreSQL through psycopg
in autocommit (one connection a thread, each UPDATE its own transaction).

    gunicorn 'bench.floor_app:create()'
        with FLOOR_AUTH_TOKEN and either FLOOR_DATABASE (an SQLite file) or
        FLOOR_DATABASE_URL (postgresql://user@host:port/db) set
"""

import os
import sqlite3
import threading

from flask import Flask
from flask import request
from twilio.request_validator import RequestValidator

UPDATE = "UPDATE messages SET provider_status = ?, error_code = ? WHERE provider_message_id = ?"


def sqlite_connection(path):
    connection = sqlite3.connect(path, isolation_level=None, timeout=10)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA wal_autocheckpoint=10000")
    return connection, UPDATE


def postgresql_connection(url):
    import psycopg

    return psycopg.connect(url, autocommit=True), UPDATE.replace("?", "%s")


def create():
    app = Flask(__name__)
    url = os.environ.get("FLOOR_DATABASE_URL")
    validator = RequestValidator(os.environ["FLOOR_AUTH_TOKEN"])
    local = threading.local()

    def connection():
        if not hasattr(local, "connection"):
            local.connection, local.update = (
                postgresql_connection(url) if url
                else sqlite_connection(os.environ["FLOOR_DATABASE"]))
        return local.connection, local.update

    @app.post("/callbacks/twilio")
    def callback():
        form = request.form.to_dict()
        if not validator.validate(request.url, form, request.headers.get("X-Twilio-Signature")):
            return "forged", 403
        database, update = connection()
        database.execute(update, (form["MessageStatus"], form.get("ErrorCode"),
                                  form["MessageSid"]))
        return "", 200

    return app
