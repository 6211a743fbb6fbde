"""gunicorn's settings for serving the portal: ``gunicorn -c python:portal.serving``.

Workers, threads and the address come from PORTAL_WORKERS, PORTAL_THREADS and PORTAL_BIND.
On SIGTERM gunicorn stops taking requests and lets those in flight finish (up to
``graceful_timeout``); a callback is recorded and applied in one transaction, so one cut
short stores nothing and Twilio, seeing the failed connection, sends it again.
"""

import os

wsgi_app = "portal:create_app()"
bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PORTAL_WORKERS", "2"))
# Threads let a worker stream a report while it answers polls and callbacks.
worker_class = "gthread"
threads = int(os.environ.get("PORTAL_THREADS", "4"))
# Large imports and reports take minutes, not seconds.
timeout = 600
graceful_timeout = 60
keepalive = 5
# The portal logs one line per request itself, with its request id.
accesslog = None
errorlog = "-"
forwarded_allow_ips = "127.0.0.1"
