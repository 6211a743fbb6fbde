#!/usr/bin/env bash
# Proves the portal runs from a plain (non-editable) install, started outside the checkout:
# templates, static files, migrations and built-in plugins must all be inside the package.
set -euo pipefail
python=${1:-python3.11}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$source_dir" 2>&1 | grep -v '^WARNING: Location' || true
cd "$work"
export PORTAL_DATABASE_URL="sqlite:///$work/portal.db"
"$work/venv/bin/flask" --app portal db upgrade >/dev/null 2>&1
"$work/venv/bin/flask" --app portal demo --campaign-size 50 >/dev/null
"$work/venv/bin/flask" --app portal teams create Checks >/dev/null
echo "a long enough password" | "$work/venv/bin/flask" --app portal users create \
  --email check@example.gov --team Checks --role admin --password-stdin >/dev/null
"$work/venv/bin/python" - <<'PY'
import csv
import io

from portal import create_app

app = create_app({"WTF_CSRF_ENABLED": False})
client = app.test_client()
signed = client.post("/sign-in", data={"email": "check@example.gov",
                                       "password": "a long enough password"})
assert signed.status_code == 302, signed.status_code
for path, needle in [("/", "Benchmark campaign of 50"), ("/campaigns/1", "How the messages fared"),
                     ("/guide", "Unreachable destination handset"), ("/plugins", "plugins.twilio"),
                     ("/static/vendor/htmx.min.js", "htmx"), ("/static/portal.css", "--ink")]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert needle in response.get_data(as_text=True), (path, needle)
rows = list(csv.reader(io.StringIO(client.get("/campaigns/1/report.csv").get_data(as_text=True))))
assert len(rows) == 51, len(rows)
xlsx = client.get("/campaigns/1/report.xlsx")
assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
assert not app.extensions["portal.plugins"].failures, app.extensions["portal.plugins"].failures
print("non-editable install: pages, static files, reports and built-in plugins all work")
PY
