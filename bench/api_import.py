"""Registering 1,000,000 messages through the JSON API, 10,000 a call.

    .venv/bin/python bench/api_import.py [--database sqlite|postgresql] [--messages N]

A fresh database (an SQLite file, or a database on the benchmark PostgreSQL server); the
portal under gunicorn (1 sync worker) on 127.0.0.1; one team, one token, one campaign. The
client posts the batches one after another and times the whole.
"""

import http.client
import json
import random
import time

import common

BATCH = 10_000
PORT = 5095


def prepare(store):
    """A migrated database with the demo teams and a token of the first; (URL, token)."""
    store.create("api_import")
    url = store.url("api_import")
    common.flask(url, "db", "upgrade")
    common.flask(url, "demo", "--campaign-size", "0")
    made = common.flask(url, "tokens", "create", "--team", "Public Health Office",
                        "--name", "bench")
    return url, made.strip().splitlines()[-1]


def batches(total):
    rng = random.Random(4)
    return [{"messages": [
        {"recipient": f"+65{rng.choice('89')}{rng.randrange(10**6, 10**7)}",
         "provider_message_id": f"SM{n:032x}", **({"status": "delivered"} if n % 2 else {})}
        for n in range(start, min(start + BATCH, total))]}
        for start in range(0, total, BATCH)]


def post_all(token, bodies):
    """Make the campaign, post every batch; (seconds, accepted, invalid numbers)."""
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
    accepted = invalid = 0
    started = time.perf_counter()
    for body in bodies:
        answer = post(f"/api/campaigns/{campaign['id']}/messages", body)
        accepted += answer["accepted"]
        invalid += answer["invalid_numbers"]["count"]
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed, accepted, invalid


def main():
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    arguments = parser.parse_args()
    total = arguments.messages
    with common.databases(arguments.database) as store:
        url, token = prepare(store)
        bodies = batches(total)
        with common.Gunicorn(url, workers=1, port=PORT):
            elapsed, accepted, invalid = post_all(token, bodies)
    print(f"database: {arguments.database}")
    print(f"{total:,} messages in {len(bodies)} calls: {elapsed:.1f} s "
          f"({total / elapsed:,.0f} messages/s): {accepted:,} accepted, {invalid:,} invalid "
          f"numbers (random digits that no SG operator hands out)")


if __name__ == "__main__":
    main()
