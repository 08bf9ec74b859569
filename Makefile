# The two quick-start commands of the README: `make demo` and `make test`.
# Both create .venv and install the project into it; nothing else is assumed but Python >= 3.11.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_ORDERS ?= 10000

.PHONY: demo test install install-test age-tool bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The interoperability tests use the real `age` tool (Debian package `age`).
age-tool:
	@if ! command -v age >/dev/null 2>&1 || ! command -v age-keygen >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing the Debian age tool"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age >/dev/null; \
	  else \
	    echo "warning: the age tool is missing and cannot be installed here; interop tests will be skipped" >&2; \
	  fi; \
	fi

test: install-test age-tool
	$(BIN)/python -m pytest -q

# The whole mission on a temporary home (local Ray, netsim, load → provisioning → network →
# bill cycle change → reconciliation → probes); exits non-zero if any step did not do its job.
demo: install
	$(BIN)/cmpctl demo --orders $(DEMO_ORDERS)

bench: install-test
	$(BIN)/python bench/codec.py --size 1GiB

clean:
	rm -rf $(VENV) .pytest_cache
