"""Server time of the campaign page, its stats partial, and the dashboard.

    .venv/bin/python bench/pages.py [--database sqlite|postgresql]

Requests go through the Flask app in-process (the server's own time, no network), signed
in as the benchmark admin, on the benchmark database: a campaign of 1,000,000 recipients
beside one of 1,000, and more than 10,000 campaigns on the dashboard. Each figure is the
median of 200 requests.
"""

import os

import common

REPEAT = 200


def measure(url):
    os.environ.update(common.environment(url))
    from portal import create_app
    from portal.db import db

    app = create_app()
    client = app.test_client()
    common.sign_in_client(client)
    htmx = {"HX-Request": "true"}

    def timed(path, headers=None):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
        return common.median_ms(lambda: client.get(path, headers=headers), REPEAT)

    big, small = 1, 3
    print(f"median server time over {REPEAT} requests, in ms")
    for label, path, headers in (("campaign page", "/campaigns/{id}", None),
                                 ("stats partial", "/campaigns/{id}/stats", htmx)):
        big_ms = timed(path.format(id=big), headers)
        small_ms = timed(path.format(id=small), headers)
        print(f"{label:14} 1,000,000 recipients: {big_ms:6.2f}   1,000 recipients: "
              f"{small_ms:6.2f}   ratio {big_ms / small_ms:.2f}")

    for label, path in (("dashboard p1", "/"), ("dashboard p200", "/?page=200"),
                        ("dashboard search", "/?q=notice+0042"),
                        ("dashboard finished", "/?state=finished&sort=name&page=3"),
                        ("dashboard in flight", "/?state=in_flight")):
        print(f"{label:27} {timed(path):6.2f}")
        print(f"{label + ' (htmx)':27} {timed(path, htmx):6.2f}")
    with app.app_context():
        db.engine.dispose()


def main():
    arguments = common.parser(__doc__.splitlines()[0]).parse_args()
    with common.databases(arguments.database) as store:
        url = common.build_database(store)
        print(f"database: {arguments.database}")
        measure(url)


if __name__ == "__main__":
    main()
