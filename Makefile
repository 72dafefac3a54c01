# make run: install into .venv and start the daemon in the foreground with the default voice.
# make test: install (plus the test tools and Debian packages the tests drive) and run pytest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install bytecode run test soak bench typecheck clean system-deps install-user-service

# See `bytecode` below.
COMPILE_BYTECODE = $(BIN)/python -m compileall -q $$($(BIN)/python -P -c 'import os, litettsd, litettsd_plugins, litettsd_client as c; print(*(os.path.dirname(m.__file__) for m in (litettsd, litettsd_plugins, c)))')

# Strict editable installs: each package becomes a tree of links to its sources, put on sys.path
# by a plain .pth line. The default editable mode installs an import hook per package instead,
# which every import in the process then consults: 7% of the daemon's time to READY. Edits show
# at once; a module added or removed needs a reinstall, which these folders' mtimes trigger.
# (Quiet twice: setuptools otherwise prints a page of warnings about this mode per package.)
PACKAGE_DIRS := litettsd plugins/litettsd_plugins client/litettsd_client \
	$(filter-out %/__pycache__/,$(wildcard plugins/litettsd_plugins/*/))

$(STAMP): Makefile pyproject.toml client/pyproject.toml plugins/pyproject.toml $(PACKAGE_DIRS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --quiet --config-settings editable_mode=strict -e ./client -e ./plugins -e '.[kokoro,test]'
	$(COMPILE_BYTECODE)
	touch $(STAMP)

install: $(STAMP)

# Bytecode for our three packages, as pip writes it for every wheel it installs: the link trees
# of an editable install get none, so every start of a process that may not write it (the
# hardened unit's read-only install, PYTHONDONTWRITEBYTECODE) would compile the modules it
# imports, and `make bench` would time that. Only what is out of date is compiled.
bytecode: $(STAMP)
	$(COMPILE_BYTECODE)

run: $(STAMP)
	$(BIN)/litettsd

# The per-user service: units in ~/.config/systemd/user (CPUS=0-3 pins it), then enabled
# when a user manager is running (skipped with a hint when there is none, e.g. over ssh as root).
install-user-service: $(STAMP)
	$(BIN)/litettsd install-units --user $(if $(CPUS),--cpus $(CPUS))
	@if systemctl --user daemon-reload 2>/dev/null; then \
		systemctl --user enable --now litettsd.socket litettsd.service; \
	else \
		echo "no systemd user manager here; in your session run: systemctl --user daemon-reload && systemctl --user enable --now litettsd.socket litettsd.service"; \
	fi

system-deps:
	scripts/install-system-deps

test: $(STAMP) system-deps
	$(BIN)/mypy
	$(BIN)/pytest

typecheck: $(STAMP)
	$(BIN)/mypy

# The long versions of the fuzz, fault and load tests (100,000 fuzzed frames, 2 minutes of
# 16 clients...); figures are appended to build/soak-report.txt.
soak: $(STAMP) system-deps
	rm -f build/soak-report.txt
	LITETTSD_SOAK=1 $(BIN)/pytest tests/test_fuzz.py tests/test_faults_load.py -p no:cacheprovider
	cat build/soak-report.txt

bench: bytecode
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build/__editable__.* plugins/build client/build
