# The two commands: `make run` (set up and serve the demo portal) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HTMX_VERSION := 2.0.11
HTMX := portal/static/vendor/htmx.min.js
# axe-core checks every page for accessibility problems in the browser tests.
AXE_VERSION := 4.14.1
AXE := build/axe/axe.min.js
export FLASK_APP := portal

.PHONY: run serve test test-postgres install check-install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# htmx comes from the npm registry at install time, pinned, so no CDN is needed at run time.
$(HTMX):
	mkdir -p $(dir $(HTMX)) build/npm
	cd build/npm && npm pack --silent htmx.org@$(HTMX_VERSION) >/dev/null
	tar -xzf build/npm/htmx.org-$(HTMX_VERSION).tgz -C build/npm
	cp build/npm/package/dist/htmx.min.js $(HTMX)

$(AXE):
	mkdir -p $(dir $(AXE)) build/npm
	cd build/npm && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null
	mkdir -p build/npm/axe-core
	tar -xzf build/npm/axe-core-$(AXE_VERSION).tgz -C build/npm/axe-core
	cp build/npm/axe-core/package/axe.min.js $(AXE)

$(VENV)/.installed: $(BIN)/python $(HTMX) setup.cfg examples/jsonl-report/setup.cfg
	$(BIN)/pip install --quiet -e '.[test]' ./examples/jsonl-report
	touch $@

install: $(VENV)/.installed

# The simulator plays Twilio for the campaign in flight, signing with this demo token
# unless PORTAL_TWILIO_AUTH_TOKEN is set.
run: export PORTAL_TWILIO_AUTH_TOKEN ?= demo-token-for-the-simulator
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask demo --live
	@echo "Open http://127.0.0.1:5000 ; the simulator is moving the campaign in flight."
	$(BIN)/flask simulate & simulator=$$!; \
	trap 'kill $$simulator 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# Production serving: migrations first, then gunicorn (see portal/serving.py for the
# PORTAL_WORKERS, PORTAL_THREADS and PORTAL_BIND settings).
serve: install
	$(BIN)/flask db upgrade
	PORTAL_LOG_FORMAT=$${PORTAL_LOG_FORMAT:-json} $(BIN)/gunicorn -c python:portal.serving

# Every test on SQLite (the browser tests in tests/e2e among them, in Debian's chromium),
# then every test but the browser ones again on a throwaway PostgreSQL server, then the
# non-editable install.
test: install $(AXE)
	$(BIN)/python -m pytest
	$(MAKE) test-postgres
	$(MAKE) check-install

test-postgres: install
	url=$$(tests/postgres.sh start) && trap 'tests/postgres.sh stop' EXIT && \
	PORTAL_TEST_POSTGRES_URL=$$url $(BIN)/python -m pytest --ignore=tests/e2e

# The portal must also run from a plain, non-editable install, started from another folder.
check-install: $(HTMX)
	tests/check_install.sh $(PYTHON)

clean:
	rm -rf $(VENV) build $(HTMX) instance
