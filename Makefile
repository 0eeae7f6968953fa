# The two commands a new user needs:  make run   and   make test
# Everything else is a step they call, or a tool for developers.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test install extract-messages update-messages compile-messages lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP) compile-messages

## make run: set up, load demo data, start the portal on http://127.0.0.1:5000 and the reminder worker
run: install
	$(BIN)/flask --app wsgi init-db
	$(BIN)/flask --app wsgi seed-demo
	$(BIN)/python -m scheduler & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask --app wsgi run --host 127.0.0.1 --port 5000

## make test: set up and run every test (PostgreSQL and browser tests run when available; required under CI=true)
test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

## Translations: messages.pot and .po are committed; .mo files are built here, never committed.
extract-messages: $(STAMP)
	$(BIN)/pybabel extract --no-location --sort-by-file --omit-header -F babel.cfg -k lazy_gettext -k _l -o translations/messages.pot .

update-messages: extract-messages
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --no-wrap -i translations/messages.pot -d translations

compile-messages: $(STAMP)
	$(BIN)/pybabel compile -d translations --statistics 2>&1 | grep -v '^$$' || true
	@ls translations/*/LC_MESSAGES/messages.mo >/dev/null

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance/*.sqlite3* .pytest_cache
