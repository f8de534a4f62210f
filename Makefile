# make demo: build every spec in specs/ into output/.  make test: install test dependencies and run pytest.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test install libreoffice clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet '.[test]'

demo: install
	$(BIN)/flopsheet build specs -o output

# LibreOffice recalculates the workbooks in the tests; install it with apt-get when it is missing and we are root.
libreoffice:
	@if command -v soffice >/dev/null 2>&1; then \
		echo "LibreOffice: $$(command -v soffice)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui; \
	else \
		echo "LibreOffice (soffice) is missing: install libreoffice-calc-nogui, then rerun make test" >&2; exit 1; \
	fi

test: install libreoffice
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build dist .pytest_cache
