# make demo: build every spec in specs/ into output/.  make test: install test dependencies and run pytest.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test install torch system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet '.[test]'

# PyTorch (CPU) for `flopsheet verify` and its tests: this exact version, which pip takes from a local wheel here.
torch: install
	$(BIN)/python -m pip install --quiet torch==2.13.0

demo: install
	$(BIN)/flopsheet build specs -o output
	$(BIN)/flopsheet build specs/zoo -o output/zoo

# LibreOffice recalculates the workbooks in the tests, and pdftotext (poppler-utils) reads the PDF reports;
# install them with apt-get when they are missing and we are root.
system-deps:
	@missing=""; \
	command -v soffice >/dev/null 2>&1 || missing="$$missing libreoffice-calc-nogui"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -z "$$missing" ]; then \
		echo "LibreOffice and poppler-utils are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "missing system packages:$$missing; install them, then rerun make test" >&2; exit 1; \
	fi

test: install torch system-deps
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build dist .pytest_cache
