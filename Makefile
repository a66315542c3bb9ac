# perfkit: `make demo` and `make test` each set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench record lab system-deps clean mutate

# one venv for both: the dev extra brings the reports, lab and dask extras (a user's own install is
# `pip install perfkit` for the core, `pip install 'perfkit[reports]'` for the reports)
$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	# the report template for `jupyter nbconvert --template perfkit` (a wheel installs it as
	# data files; an editable install does not, so link the source folder)
	mkdir -p $(VENV)/share/jupyter/nbconvert/templates
	ln -sfn $(CURDIR)/perfkit/report/templates/perfkit $(VENV)/share/jupyter/nbconvert/templates/perfkit
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/perfkit demo --out reports/

lint: $(STAMP)
	$(BIN)/ruff check .

system-deps:
	tools/system-deps

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q --durations=30

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

record: $(STAMP)
	$(BIN)/python -m examples.warehouse.record

bench: $(STAMP)
	command -v goaccess >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get install -y -qq goaccess >/dev/null) || echo "goaccess not installed: perfkit figures only"
	command -v pgbadger >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get install -y -qq pgbadger >/dev/null) || echo "pgbadger not installed: perfkit figures only"
	$(BIN)/python -m benchmarks

# mutation testing of the verdict code and the log-format parser (not part of `make test`);
# MUTATE=verdict (or module names, see tools/mutate.py) narrows it
mutate: $(STAMP)
	test -x $(BIN)/mutmut || $(BIN)/python -m pip install --quiet 'mutmut==3.8.1'
	nice -n 10 $(BIN)/python tools/mutate.py $(MUTATE)

clean:
	rm -rf $(VENV) reports build *.egg-info .pytest_cache .ruff_cache
