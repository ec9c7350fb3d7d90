# patchwise.openssl — the two set-up commands are `make demo` and `make test`.
# Everything else here is a building block of those two (or `make bench`).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
CACHE := $(CURDIR)/.cache
# A symlink tree that makes this checkout importable as ansible_collections.patchwise.openssl
# (unit tests, molecule, ansible-lint).
COLLECTIONS := $(CACHE)/collections
LINK := $(COLLECTIONS)/ansible_collections/patchwise/openssl
# `ansible-test sanity` needs a real directory named ansible_collections/patchwise/openssl;
# it must live outside this git checkout: ansible-test skips files that git ignores.
SANITY_ROOT ?= $(or $(TMPDIR),/tmp)/patchwise-openssl-sanity-$(shell printf %s "$(CURDIR)" | md5sum | cut -c1-8)
SANITY_TREE := $(SANITY_ROOT)/ansible_collections/patchwise/openssl
# Where `make demo` installs the built collection, like a user's collections path.
DEMO_COLLECTIONS := $(CACHE)/demo-collections
REPORT_DIR ?= $(CURDIR)/reports

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR ?= 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help demo test bench venv venv-test collection-link lint ruff sanity unit package runner molecule test-tools \
	test-hosts build clean

help:  ## Show the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

# --- virtual environments -------------------------------------------------------------------

$(BIN)/python:
	@echo "== creating $(VENV)"
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "== python3 -m venv failed: installing Debian's python3-venv"; \
	  rm -rf $(VENV); apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
	  $(PYTHON) -m venv $(VENV); }

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	@echo "== installing run-time requirements (requirements.txt)"
	@$(BIN)/python -m pip install -q -r requirements.txt -c constraints.txt
	@touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt constraints.txt | $(BIN)/python
	@echo "== installing test requirements (requirements-test.txt)"
	@$(BIN)/python -m pip install -q -r requirements-test.txt -c constraints.txt
	@touch $@ $(VENV)/.runtime-installed

venv: $(VENV)/.runtime-installed  ## Create .venv with the run-time requirements.

venv-test: $(VENV)/.test-installed  ## Create .venv with the test requirements.

collection-link:
	@mkdir -p $(dir $(LINK))
	@ln -sfn ../../../.. $(LINK)

# --- the two set-up commands ------------------------------------------------------------------

demo: venv  ## Assess this machine's OpenSSL with the bundled data; prints a summary.
	@rm -rf $(DEMO_COLLECTIONS) && mkdir -p $(DEMO_COLLECTIONS)
	@echo "== building and installing the collection into $(DEMO_COLLECTIONS)"
	@$(BIN)/ansible-galaxy collection build --force --output-path $(CACHE)/dist . >/dev/null
	@ANSIBLE_COLLECTIONS_PATH=$(DEMO_COLLECTIONS) \
	  $(BIN)/ansible-galaxy collection install --force -p $(DEMO_COLLECTIONS) \
	  $(CACHE)/dist/patchwise-openssl-$$(sed -n 's/^version: *//p' galaxy.yml).tar.gz >/dev/null
	@echo "== running playbook patchwise.openssl.assess on localhost"
	@ANSIBLE_COLLECTIONS_PATH=$(DEMO_COLLECTIONS) ANSIBLE_STDOUT_CALLBACK=ansible.builtin.default \
	  ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
	  ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_LOCALHOST_WARNING=false \
	  ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
	  $(BIN)/ansible-playbook -i localhost, -c local patchwise.openssl.assess \
	  -e ansible_python_interpreter=$(BIN)/python -e assess_report_dir=$(REPORT_DIR)

test: venv-test  ## Run everything: ruff, ansible-lint, sanity, unit, package, runner, molecule.
	@start=$$(date +%s); \
	for step in ruff lint sanity unit package runner molecule; do \
	  echo; echo "===== make $$step"; t0=$$(date +%s); \
	  $(MAKE) --no-print-directory $$step; \
	  echo "===== make $$step: ok ($$(( $$(date +%s) - t0 )) s)"; \
	done; \
	echo; echo "===== make test: all steps passed in $$(( $$(date +%s) - start )) s"

# BENCH_QUICK=1: smaller sizes and fewer rounds, a few minutes (benchmarks/run.py --quick).
bench: venv-test  ## Run the benchmarks under benchmarks/ and print the ratio table (BENCH_QUICK=1: quick).
	@$(BIN)/python benchmarks/run.py $(if $(BENCH_QUICK),--quick)

# --- building blocks of `make test` -----------------------------------------------------------

ruff: venv-test  ## Python lint (ruff, including the security rules S).
	@$(BIN)/ruff check $(wildcard plugins tests benchmarks tools)

lint: venv-test collection-link  ## ansible-lint, production profile, no skip list.
	@$(BIN)/ansible-lint --profile production

sanity: venv-test  ## ansible-test sanity, no ignore files, from an ansible_collections tree.
	@$(BIN)/python tests/tools/install_get_pip_cache.py
	@rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_TREE)
	@git ls-files -z --cached --others --exclude-standard \
	  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C $(SANITY_TREE) -xf -
	@test -x $(BIN)/shellcheck || { echo "shellcheck missing from .venv (requirements-test.txt)"; exit 1; }
	@cd $(SANITY_TREE) && PATH="$(abspath $(BIN)):$$PATH" $(BIN)/ansible-test sanity --venv --python 3.11 --color no

# The run fails when its property tests executed fewer generated inputs than
# PATCHWISE_MIN_EXAMPLES (counted by tests/unit/conftest.py); PATCHWISE_PROPERTY_SCALE=N runs
# N times as many.
PATCHWISE_MIN_EXAMPLES ?= 100000
unit: venv-test collection-link  ## Unit and property tests (pytest + hypothesis, >= 100,000 inputs).
	@PYTHONPATH=$(COLLECTIONS) PATCHWISE_MIN_EXAMPLES=$(PATCHWISE_MIN_EXAMPLES) \
	  $(BIN)/python -m pytest -q -n 2 tests/unit

package: venv-test  ## Build and install the tarball; ansible-doc every plugin; run its modules.
	@$(BIN)/python tests/tools/check_package.py

runner: venv-test collection-link test-hosts  ## ansible-runner jobs (as AWX runs them) and the EE build context.
	@PYTHONPATH=$(COLLECTIONS) $(BIN)/python -m pytest -q -p no:cacheprovider tests/integration_runner

test-hosts:  ## Make podman usable and build the Debian 11/12/13 test images (cached).
	@tests/hosts/prepare.sh

test-tools:  ## Debian tools the scenarios use on the controller (headless chromium for reports).
	@command -v chromium >/dev/null || { echo "== installing Debian's chromium (HTML report check)"; \
	  apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

molecule: venv-test collection-link test-hosts test-tools  ## Molecule scenarios on Debian containers.
	@PATH=$(BIN):$$PATH tests/hosts/run-molecule.sh

build:  ## Build the collection tarball into .cache/dist.
	@$(BIN)/ansible-galaxy collection build --force --output-path $(CACHE)/dist .

clean:  ## Remove the virtual environment and caches (test images are kept).
	rm -rf $(VENV) $(CACHE) .ansible
