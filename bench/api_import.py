"""Registering 1,000,000 messages through the JSON API, 10,000 a call.

    .venv/bin/python bench/api_import.py [--messages N]

A fresh SQLite database; the portal under gunicorn (1 worker) on 127.0.0.1; one team, one
token, one campaign. The client posts the batches one after another and times the whole.
"""

import argparse
import http.client
import json
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

import common

BATCH = 10_000
PORT = 5095


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    total = parser.parse_args().messages
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "api.db"
        env = {**os.environ, "PORTAL_DATABASE_URL": f"sqlite:///{database}",
               "PORTAL_LOG_LEVEL": "WARNING"}
        flask = [str(common.BIN / "flask"), "--app", "portal"]
        subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([*flask, "demo", "--campaign-size", "0"], env=env, check=True,
                       capture_output=True)
        made = subprocess.run([*flask, "tokens", "create", "--team", "Public Health Office",
                               "--name", "bench"], env=env, check=True, capture_output=True,
                              text=True)
        token = made.stdout.strip().splitlines()[-1]
        server = subprocess.Popen([str(common.BIN / "gunicorn"), "-w", "1", "-b",
                                   f"127.0.0.1:{PORT}", "--timeout", "300",
                                   "portal:create_app()"], env=env, cwd=common.ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2)
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

            def post(path, body):
                connection.request("POST", path, body=json.dumps(body), headers=headers)
                response = connection.getresponse()
                answer = json.loads(response.read())
                assert response.status == 201, (response.status, answer)
                return answer

            campaign = post("/api/campaigns", {"name": "API import", "provider": "twilio",
                                               "sent_at": "2026-12-03T08:00:00Z"})
            rng = random.Random(4)
            batches = []
            for start in range(0, total, BATCH):
                batches.append({"messages": [
                    {"recipient": f"+65{rng.choice('89')}{rng.randrange(10**6, 10**7)}",
                     "provider_message_id": f"SM{n:032x}",
                     **({"status": "delivered"} if n % 2 else {})}
                    for n in range(start, min(start + BATCH, total))]})
            accepted = invalid = 0
            started = time.perf_counter()
            for body in batches:
                answer = post(f"/api/campaigns/{campaign['id']}/messages", body)
                accepted += answer["accepted"]
                invalid += answer["invalid_numbers"]["count"]
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait()
    print(f"{total:,} messages in {total // BATCH} calls: {elapsed:.1f} s "
          f"({total / elapsed:,.0f} messages/s): {accepted:,} accepted, {invalid:,} invalid "
          f"numbers (random digits that no SG operator hands out)")


if __name__ == "__main__":
    main()
