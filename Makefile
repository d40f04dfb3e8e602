# `make run` starts the app, `make test` runs the tests, `make wheel` builds the wheel, `make bundle` the desktop
# bundle, `make deb` the Debian package and `make tarball` the single-file installer. Each sets up .venv with what it needs on first use.
#   make run PYTHON=python3.12   choose the interpreter (BindScope needs Python 3.11 or 3.12)
#   make test TEST_WORKERS=0     run the tests in one process (pytest-xdist spreads them over the cores by default)
#   make run TORCH=cpu           PyTorch's CPU-only wheels (no CUDA libraries: about 5 GB less)
PYTHON ?= python3
TORCH ?=
TEST_WORKERS ?= auto
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q $(if $(filter cpu,$(TORCH)),--extra-index-url https://download.pytorch.org/whl/cpu)
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed
BUNDLE := dist/BindScope/bindscope-app

.PHONY: run test lint wheel bundle deb tarball clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' || \
		{ echo "BindScope needs Python 3.11 or 3.12; $(PYTHON) is $$($(PYTHON) -V 2>&1): try make run PYTHON=python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The app and the command line: no Ray, no test tools.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[gui]'
	@touch $@

# Everything the tests need, the cluster backend (Ray) included.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[dev]'
	@touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/python main.py $(ARGS)

test: $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

wheel: $(TEST_STAMP)
	$(BIN)/python -m build --wheel --no-isolation --outdir dist .

bundle: $(RUN_STAMP)
	$(PIP) -e '.[gui,bundle]'
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/bindscope.spec
	$(BIN)/python packaging/check_glibc.py dist/BindScope

# The .deb of the bundle in dist/ (built first when there is none).
deb: $(BUNDLE)
	$(BIN)/python packaging/deb.py dist/BindScope --out dist

# The single-file installer (bundle + install.sh) for any Linux desktop.
tarball: $(BUNDLE)
	$(BIN)/python packaging/tarball.py dist/BindScope --out dist

$(BUNDLE):
	$(MAKE) bundle

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist
